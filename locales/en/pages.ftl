# The words of usher's pages, in English: the reference catalogue.
# Every message here must exist, with the same variables, in each other
# language; a language that lacks one falls back to this one.
# $product is the product_name setting; $label a field's label, as this
# catalogue words it. Messages whose id ends in -html hold markup: their
# variables are escaped, the markup is the catalogue's own.

## Shared by every page.

# Before a page's title, and before each problem for screen readers.
error-prefix = Error:
optional = (optional)
next-steps = What you can do next
back-to-start = Back to the start
type-code-instead = Type the code from the email instead
type-code-other-device = Reading the email on another device? Type the code it carries
ask-password-email = Ask for a password email
start-new-signup = Start a new signup

## A wait, as "Try again in …" ends: $count of $unit (second, minute, hour),
## $rounded is "yes" when the count was rounded up.

wait-in = { $unit ->
        [second] { $count ->
            [one] a second
           *[other] { $count } seconds
        }
        [minute] { $rounded ->
            [yes] about { $count } minutes
           *[no] { $count ->
                [one] a minute
               *[other] { $count } minutes
            }
        }
       *[hour] { $rounded ->
            [yes] about { $count } hours
           *[no] { $count ->
                [one] an hour
               *[other] { $count } hours
            }
        }
    }

## A time span, as "The link works for …" ends; the same variables.

lasting = { $unit ->
        [second] { $count ->
            [one] a second
           *[other] { $count } seconds
        }
        [minute] { $rounded ->
            [yes] about { $count } minutes
           *[no] { $count ->
                [one] a minute
               *[other] { $count } minutes
            }
        }
       *[hour] { $rounded ->
            [yes] about { $count } hours
           *[no] { $count ->
                [one] an hour
               *[other] { $count } hours
            }
        }
    }

## What stops a whole form, said at its top. $wait is a wait-in.

notice-stale-title = Please send the form again
notice-stale = For your security we could not accept it as it was: it was open for a long time, or it did not come from this page. Your answers are kept below. Check them, then send the form again.
notice-rate-limited-title = Please wait a little
notice-rate-limited = We have had many requests for this just now, so we are holding back to keep inboxes and accounts safe. Try again in { $wait }. Your answers are kept below.
notice-unavailable-title = We could not take this just now
notice-unavailable = We are very busy or briefly down. Nothing was saved. Try again in { $wait }; your answers are kept below.
notice-unreadable-title = Something in the form could not be read
notice-unreadable = Check your answers below and send the form again.

## The summary of a form's problems, at its top.

summary-title = { $count ->
        [one] There is a problem with the form
       *[other] There are { $count } problems with the form
    }

## A field's problem, beside it and in the summary. $label is the field's label.

rule-not-valid = { $label } is not valid.
rule-required = { $label } is required.
rule-too-short = { $label } must be at least { $min } characters.
rule-too-long = { $label } must be at most { $max } characters.
rule-control-characters = { $label } must not contain control characters or line breaks.
rule-invisible-characters = { $label } must not contain direction overrides or invisible characters.
rule-not-a-name = { $label } must be a name, without links, addresses or host names.
rule-not-an-email-address = { $label } is not a valid email address.
rule-not-a-dns-label = { $label } must be 1 to 63 lower-case letters, digits or hyphens, not starting or ending with a hyphen.
rule-idn-form-refused = { $label } must not have hyphens as its third and fourth characters (as in ab--cd): that form is kept for internationalised names.
rule-idn-form-not-xn = { $label } must not have hyphens as its third and fourth characters unless it is an internationalised name, starting with xn--.
rule-idn-not-punycode = { $label } is not a valid internationalised name: a name starting with xn-- must be the encoded form of one.
rule-reserved = { $label }: that name is reserved; choose another.
rule-taken = { $label }: that name is already taken; choose another.
rule-not-a-tenant-type = { $label } is not a kind of tenant usher knows.
rule-not-a-language-tag = { $label } is not a language usher can read.
rule-unknown-country = { $label }: choose a country from the list.
# $country is the country's name.
rule-zip-required = { $label } is required in { $country }.
rule-zip-mismatch = { $label } does not match the postal codes of { $country }.
rule-zip-mismatch-example = { $label } does not match the postal codes of { $country } (for example { $example }).
rule-not-a-subdivision = { $label } is not a state or region of { $country }.
rule-password-has-email-name = { $label } must not contain the name part of your email address.
rule-password-breached = { $label } has appeared in a data breach (Have I Been Pwned); choose another.
rule-password-common = { $label } is too easy to guess: it is one of the most common passwords.
rule-password-common-with-additions = { $label } is too easy to guess: it is a common password with a few characters added.
rule-password-personal = { $label } is too easy to guess: it is built from your own names or address.
rule-password-pattern-with-additions = { $label } is too easy to guess: it is a common word or pattern with a few characters added.
rule-password-misspelt-word = { $label } is too easy to guess: it is a dictionary word, misspelt by a letter, with a few characters added.
rule-password-too-guessable = { $label } is too easy to guess: add more words or characters that are not common patterns.
rule-terms = Accept the terms of service to sign up.
rule-code-refused = That code does not work with that address. Check both against the most recent email; after five wrong codes the email's code stops working, but its link still works.

## Fields.

label-company-name = Company name
label-domain = Domain
label-address1 = Street address
label-address2 = Address line 2
label-country = Country
label-state = State or region
label-city = City
label-zip-code = ZIP or postal code
label-first-name = First name
label-last-name = Last name
label-email = Email
label-email-address = Email address
label-phone = Phone
label-terms = Terms of service
label-tenant-name = Tenant name
label-code = Code
label-password = Password
label-new-password = New password
hint-password = At least 8 characters; a few unrelated words work well.

## home.html: what usher is.

home-title = Sign up
home-welcome = Welcome to { $product }
home-intro = This is where new customers and developers get an account for { $product }. Sign up, confirm your email address with the link we send you, and choose a password.
home-tenant-html = <a href="{ $href }">Sign up your company</a>: a tenant of its own, with you as its first user.
home-developer-html = <a href="{ $href }">Sign up as a developer</a>: an account on the developer portal.
home-signed-up = Already signed up?
home-code-html = Got an email from us with a code? <a href="{ $href }">Type the code</a>.
home-forgot-html = Forgot your password, or never set one? <a href="{ $href }">Ask for a password email</a>.

## The signup forms, sent.

check-email-title = Check your email
spam-folder = If nothing arrives in a few minutes, look in your spam folder.
wrong-address = Wrong address? Sign up again

## tenant_form.html: a company's signup.

tenant-title = Sign up your company
tenant-sent-html = We sent a link to <strong>{ $email }</strong>. Open it to confirm your address and create your tenant.
tenant-company = Your company
tenant-domain-hint = Your tenant's name in its addresses: 1 to 63 lower-case letters, digits or hyphens, not starting or ending with a hyphen. For example acme or acme-eu.
tenant-address = Mailing address
tenant-choose-country = Choose a country
tenant-show-states = Show its states
tenant-choose-state = Choose a state or region
tenant-show-cities = Show its cities
tenant-city-hint = Pick one from the list or type your own.
tenant-zip-hint = Needed where the country uses postal codes.
tenant-zip-hint-example = Needed where the country uses postal codes, for example { $example }.
tenant-you = You
tenant-email-hint = We send the link that completes the signup here.
# $version is the terms' version (the terms_version setting).
tenant-terms = I accept the terms of service (version { $version }).
tenant-terms-html = I accept the <a href="{ $href }">terms of service</a> (version { $version }).
tenant-submit = Sign up

## developer_form.html: a developer's signup.

developer-title = Sign up as a developer
developer-sent-html = We sent a link to <strong>{ $email }</strong>. Open it to activate your account and choose a password.
developer-email-hint = We send the activation link here.
developer-submit = Sign up

## signup.html: the page a signup link opens.

signup-ready-title = Complete your signup
signup-ready-html = You are creating the tenant <strong>{ $cname }</strong> for <strong>{ $email }</strong>.
signup-submit = Create my account
signup-not-meant = Not what you meant? Start a new signup
signup-done-title = Welcome aboard
signup-done-html = The tenant <strong>{ $cname }</strong> is ready, with <strong>{ $email }</strong> as its first user.
go-to-console = Go to your console
signup-done-no-console = Your account is ready: sign in to { $product } with { $email } and the password you just chose. There is nothing more to do on this page.
signup-forgot-later = Forget your password later? Ask for a password email
signup-expired-title = This link has expired
signup-expired-superseded = A newer link was sent for this signup, and only the newest one works. We can email you a new one.
signup-expired = Signup links work for a limited time, and only the newest one works. We can email you a new one.
signup-resend = Email me a new link
signup-or-start-new = Or start a new signup
signup-resent = A new link is on its way to the address you signed up with. It replaces every earlier one.
signup-completed-title = Already done
signup-completed-html = This signup is complete: the tenant <strong>{ $cname }</strong> exists, with <strong>{ $email }</strong> as its first user.
signup-completed-forgot = No password yet, or forgot it? Ask for a password email
link-dead-title = This link does not work
link-cut = Check that the whole link was copied from the email; some mail programs cut long links in two.
signup-invalid = Check that the whole link was copied from the email; some mail programs cut long links in two. You can also type the code the email carries.
type-code = Type the code from the email

## password.html: the page a password link opens.

password-ready-title = Set your password
password-for-html = For <strong>{ $email }</strong> at <strong>{ $cname }</strong>.
password-submit = Set password
password-not-yours = Not your account? Ask for a password email for yours
password-done-title = Password set
password-done-html = The password of <strong>{ $email }</strong> at <strong>{ $cname }</strong> is set.
password-done-no-console-html = The password of <strong>{ $email }</strong> at <strong>{ $cname }</strong> is set: sign in to { $product } with it.
password-sign-in = Sign in to your console
password-expired = Password links work for a limited time, and this one has expired.
password-used = This link was already used to set a password; each link works once.
password-superseded = A newer password link was sent, and only the newest one works.
password-was-for-html = It was for <strong>{ $email }</strong> at <strong>{ $cname }</strong>.
password-ask-new = Ask for a new password email

## forgot.html: asking for a password email.

forgot-title = Ask for a password email
forgot-intro = Forgot your password, or never set one? We email a link to set a new one.
forgot-cname-hint = Your company's name in its addresses, such as acme: the domain chosen at signup.
forgot-submit = Email me a link
# $lasting is a lasting.
forgot-sent-html = If <strong>{ $email }</strong> has an account at <strong>{ $cname }</strong>, a link to set its password is on its way. The link works for { $lasting }.
forgot-sent-nothing = Nothing after a few minutes? Look in your spam folder, and check the address and the tenant name: we write only to an address that has an account there.
forgot-ask-again = Ask again, for another address or tenant

## activate.html: the page a developer's activation link opens.

activation-ready-title = Activate your account
activation-ready-html = Choose a password for <strong>{ $email }</strong>.
activation-submit = Activate
activation-done-title = Your account is active
activation-done-html = <strong>{ $email }</strong> can now sign in.
activation-done-no-console-html = <strong>{ $email }</strong> can now sign in to the developer portal with the password you chose.
activation-done-anyone = You can now sign in.
activation-done-anyone-no-console = You can now sign in to the developer portal with the password you chose.
activation-portal = Go to the developer portal
activation-expired = Activation links work for a limited time, and this one has expired.
activation-used = This account is already active: sign in with your password.
activation-superseded = A newer activation email was sent, and only the newest link works.
activation-invalid = It may have expired or been used already, or it was not copied whole.
activation-sign-up-again = Signing up again with the same address sends a new activation email.
activation-new-email = Sign up again to get a new activation email

## code.html: an email's short code, typed.

code-title = Type your code
code-heading = Type the code from your email
# $example is a code, as the emails print them.
code-intro-html = Every email with a link also carries a short code, like <code>{ $example }</code>. Type it here with the address the email was sent to, and you go where the link goes.
code-hint = Capitals or not, with or without the hyphen.
code-submit = Continue
code-lost-email = Lost the email? Ask for a new password email

## error.html: what went wrong, for a whole page. $wait is a wait-in.

error-rate-limited-title = Please wait a little
error-rate-limited = We have had many requests from your network just now, so we are holding back to keep accounts safe. Try again in { $wait }.
error-unavailable-title = Please try again shortly
error-unavailable = We are very busy or briefly down, and nothing was saved. Try again in { $wait }.
error-internal-title = Something went wrong on our side
error-internal = Nothing you did caused it, and we have noted it. Please try again in a few minutes.
error-too-large-title = The form was too large to send
error-too-large = One of the answers is much longer than any field takes. Go back, shorten it and send the form again.
error-cross-site-title = This form came from another website
error-cross-site = For your safety we only take forms sent from our own pages. If you meant to sign up here, open the form below and fill it in on this site.
error-not-found-title = Nothing here
error-not-found = There is no page at this address, or no developer portal is served from it. Check the address, or start from the links below.
error-account-exists-title = You already have an account
error-signup-completed = This signup is already complete.
error-user-exists = This email address already has an account. Sign in with it, or ask for a password email if you do not know the password.
error-cname-taken-title = That name was taken meanwhile
error-cname-taken = Another signup took the tenant name you chose before yours was completed, so nothing was created. Sign up again with another name.
error-title = Something went wrong
error-unreadable = We could not read what was sent. Go back, check the form and send it again.
sign-up-company = Sign up your company
sign-up-developer = Sign up as a developer

## devmail.html: the development mailbox, for the operator.

devmail-title = Development mailbox
devmail-intro-html = Mail usher delivered with the <code>dev</code> transport, newest first. Also as <a href="{ $href }">JSON</a>.
devmail-to = To
devmail-sent = Sent
devmail-message-id = Message-ID
# The hidden words name the mail, for screen readers.
devmail-open-link-html = Open the link<span class="visually-hidden"> of “{ $subject }” to { $to }</span>
devmail-empty = No mail yet.
