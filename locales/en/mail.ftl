# The words of usher's emails, in English: the reference catalogue.
# Every message here must exist, with the same variables, in each other
# language; a language that lacks one falls back to this one.
# docs/languages.md says how to add a language or override a message.

## Dates, as the emails write them: 8 December 2026, 00:49 UTC.
## $day, $year and $time ("00:49") are text; $month is 1 to 12; $zone names the time zone.

date-time = { $day } { $month ->
        [1] January
        [2] February
        [3] March
        [4] April
        [5] May
        [6] June
        [7] July
        [8] August
        [9] September
        [10] October
        [11] November
       *[12] December
    } { $year }, { $time } { $zone }

## Shared by the emails.

mail-hello = Hello { $name },
mail-hello-anyone = Hello,
mail-copy-link = Or copy this address into your browser: { $link }
mail-type-code = Or type this code at { $page }, with your email address:
# Markup: the page is a link in the HTML part.
mail-type-code-html = Or type this code at <a href="{ $page }">{ $page }</a>, with your email address:

## signup_link: a tenant signup's link.

mail-signup-subject = Confirm your signup for { $cname }
mail-signup-intro = Thank you for signing up. To create the tenant "{ $cname }" and set your password, open this link:
mail-signup-intro-html = Thank you for signing up. To create the tenant <strong>{ $cname }</strong> and set your password, open this link:
mail-signup-button = Confirm my signup
mail-signup-expiry = The link works until { $expires_at }. If it has expired, open it anyway: the page lets you ask for a new one.
mail-signup-ignore = If you did not sign up, ignore this email; nothing will be created.

## password_link: a link to set the password of an account.

mail-password-subject = Set your password for { $cname }
mail-password-intro = To set the password of your account in "{ $cname }", open this link:
mail-password-intro-html = To set the password of your account in <strong>{ $cname }</strong>, open this link:
mail-password-button = Set my password
mail-password-expiry = The link works until { $expires_at } and only once. If you did not ask for it, ignore this email; your account is unchanged.

## activation_code: a developer's activation link.

mail-activation-subject = Activate your developer account
mail-activation-intro = Thank you for signing up for the developer portal. To activate your account and choose a password, open this link:
mail-activation-button = Activate my account
mail-activation-expiry = The link works until { $expires_at } and only once. If you did not sign up, ignore this email; the account stays inactive.

## account_exists: a signup for an address that already has an account.

mail-exists-subject = You already have an account
mail-exists-body = Someone, probably you, asked to sign up with this email address. It already belongs to an account, so nothing new was created.
mail-exists-advice = If you forgot your password, ask for a password email from the sign-in page. If you did not ask for this, you can ignore this email.
