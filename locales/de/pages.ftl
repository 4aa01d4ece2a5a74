# Die Wörter der Seiten von usher, auf Deutsch (mit „Sie“).

## Auf jeder Seite.

error-prefix = Fehler:
optional = (optional)
next-steps = Wie es weitergeht
back-to-start = Zurück zur Startseite
type-code-instead = Stattdessen den Code aus der E-Mail eingeben
type-code-other-device = Lesen Sie die E-Mail auf einem anderen Gerät? Geben Sie den Code daraus ein
ask-password-email = Passwort-E-Mail anfordern
start-new-signup = Neu registrieren

## Eine Wartezeit, wie sie „Versuchen Sie es in … erneut“ schließt (Dativ).

wait-in = { $unit ->
        [second] { $count ->
            [one] einer Sekunde
           *[other] { $count } Sekunden
        }
        [minute] { $rounded ->
            [yes] etwa { $count } Minuten
           *[no] { $count ->
                [one] einer Minute
               *[other] { $count } Minuten
            }
        }
       *[hour] { $rounded ->
            [yes] etwa { $count } Stunden
           *[no] { $count ->
                [one] einer Stunde
               *[other] { $count } Stunden
            }
        }
    }

## Eine Dauer, wie „Der Link gilt …“ sie nennt (Akkusativ).

lasting = { $unit ->
        [second] { $count ->
            [one] eine Sekunde
           *[other] { $count } Sekunden
        }
        [minute] { $rounded ->
            [yes] etwa { $count } Minuten
           *[no] { $count ->
                [one] eine Minute
               *[other] { $count } Minuten
            }
        }
       *[hour] { $rounded ->
            [yes] etwa { $count } Stunden
           *[no] { $count ->
                [one] eine Stunde
               *[other] { $count } Stunden
            }
        }
    }

## Was ein ganzes Formular aufhält, oben gesagt.

notice-stale-title = Bitte senden Sie das Formular erneut
notice-stale = Zu Ihrer Sicherheit konnten wir es so nicht annehmen: Es war lange geöffnet, oder es kam nicht von dieser Seite. Ihre Angaben stehen unten noch. Prüfen Sie sie und senden Sie das Formular dann erneut.
notice-rate-limited-title = Bitte warten Sie einen Moment
notice-rate-limited = Gerade kamen sehr viele Anfragen dafür, deshalb halten wir uns zurück, um Postfächer und Konten zu schützen. Versuchen Sie es in { $wait } erneut. Ihre Angaben stehen unten noch.
notice-unavailable-title = Wir konnten das gerade nicht annehmen
notice-unavailable = Wir sind sehr ausgelastet oder kurz nicht erreichbar. Es wurde nichts gespeichert. Versuchen Sie es in { $wait } erneut; Ihre Angaben stehen unten noch.
notice-unreadable-title = Ein Teil des Formulars war nicht lesbar
notice-unreadable = Prüfen Sie Ihre Angaben unten und senden Sie das Formular erneut.

## Die Übersicht der Fehler oben im Formular.

summary-title = { $count ->
        [one] Das Formular enthält einen Fehler
       *[other] Das Formular enthält { $count } Fehler
    }

## Der Fehler eines Feldes, neben dem Feld und in der Übersicht.

rule-not-valid = „{ $label }“ ist ungültig.
rule-required = Bitte geben Sie „{ $label }“ an.
rule-too-short = „{ $label }“ muss mindestens { $min } Zeichen lang sein.
rule-too-long = „{ $label }“ darf höchstens { $max } Zeichen lang sein.
rule-control-characters = „{ $label }“ darf keine Steuerzeichen oder Zeilenumbrüche enthalten.
rule-invisible-characters = „{ $label }“ darf keine unsichtbaren Zeichen und keine Zeichen enthalten, die die Schreibrichtung umkehren.
rule-not-a-name = „{ $label }“ muss ein Name sein, ohne Links, Adressen oder Hostnamen.
rule-not-an-email-address = „{ $label }“ ist keine gültige E-Mail-Adresse.
rule-not-a-dns-label = „{ $label }“ muss aus 1 bis 63 Kleinbuchstaben, Ziffern oder Bindestrichen bestehen und darf nicht mit einem Bindestrich beginnen oder enden.
rule-idn-form-refused = „{ $label }“ darf an dritter und vierter Stelle keine Bindestriche haben (wie in ab--cd): Diese Form ist internationalisierten Namen vorbehalten.
rule-idn-form-not-xn = „{ $label }“ darf an dritter und vierter Stelle nur dann Bindestriche haben, wenn es ein internationalisierter Name ist, der mit xn-- beginnt.
rule-idn-not-punycode = „{ $label }“ ist kein gültiger internationalisierter Name: Ein Name, der mit xn-- beginnt, muss die kodierte Form eines solchen Namens sein.
rule-reserved = „{ $label }“: Dieser Name ist reserviert; bitte wählen Sie einen anderen.
rule-taken = „{ $label }“: Dieser Name ist bereits vergeben; bitte wählen Sie einen anderen.
rule-not-a-tenant-type = „{ $label }“ ist keine Art von Mandant, die usher kennt.
rule-not-a-language-tag = „{ $label }“ ist keine Sprache, die usher lesen kann.
rule-unknown-country = „{ $label }“: Bitte wählen Sie ein Land aus der Liste.
rule-zip-required = Bitte geben Sie „{ $label }“ an: Das gewählte Land verwendet Postleitzahlen.
rule-zip-mismatch = „{ $label }“ passt nicht zu den Postleitzahlen des gewählten Landes.
rule-zip-mismatch-example = „{ $label }“ passt nicht zu den Postleitzahlen des gewählten Landes (zum Beispiel { $example }).
rule-not-a-subdivision = „{ $label }“ gehört nicht zum gewählten Land.
rule-password-has-email-name = „{ $label }“ darf den Namensteil Ihrer E-Mail-Adresse nicht enthalten.
rule-password-breached = „{ $label }“ ist bei einem Datenleck bekannt geworden (Have I Been Pwned); bitte wählen Sie ein anderes.
rule-password-common = „{ $label }“ ist zu leicht zu erraten: Es ist eines der häufigsten Passwörter.
rule-password-common-with-additions = „{ $label }“ ist zu leicht zu erraten: Es ist ein häufiges Passwort mit ein paar zusätzlichen Zeichen.
rule-password-personal = „{ $label }“ ist zu leicht zu erraten: Es besteht aus Ihren eigenen Namen oder Ihrer Adresse.
rule-password-pattern-with-additions = „{ $label }“ ist zu leicht zu erraten: Es ist ein häufiges Wort oder Muster mit ein paar zusätzlichen Zeichen.
rule-password-misspelt-word = „{ $label }“ ist zu leicht zu erraten: Es ist ein Wort aus dem Wörterbuch, um einen Buchstaben verändert, mit ein paar zusätzlichen Zeichen.
rule-password-too-guessable = „{ $label }“ ist zu leicht zu erraten: Fügen Sie weitere Wörter oder Zeichen hinzu, die keinem gängigen Muster folgen.
rule-terms = Bitte akzeptieren Sie die Nutzungsbedingungen, um sich zu registrieren.
rule-code-refused = Dieser Code passt nicht zu dieser Adresse. Vergleichen Sie beides mit der neuesten E-Mail; nach fünf falschen Codes gilt der Code der E-Mail nicht mehr, ihr Link aber schon.

## Felder.

label-company-name = Name des Unternehmens
label-domain = Domain
label-address1 = Straße und Hausnummer
label-address2 = Adresszusatz
label-country = Land
label-state = Bundesland oder Region
label-city = Ort
label-zip-code = Postleitzahl
label-first-name = Vorname
label-last-name = Nachname
label-email = E-Mail-Adresse
label-email-address = E-Mail-Adresse
label-phone = Telefon
label-terms = Nutzungsbedingungen
label-tenant-name = Name des Mandanten
label-code = Code
label-password = Passwort
label-new-password = Neues Passwort
hint-password = Mindestens 8 Zeichen; gut eignen sich ein paar Wörter, die nichts miteinander zu tun haben.

## home.html

home-title = Registrieren
home-welcome = Willkommen bei { $product }
home-intro = Hier erhalten neue Kunden und Entwickler ein Konto für { $product }. Registrieren Sie sich, bestätigen Sie Ihre E-Mail-Adresse über den Link, den wir Ihnen senden, und wählen Sie ein Passwort.
home-tenant-html = <a href="{ $href }">Ihr Unternehmen registrieren</a>: ein eigener Mandant, mit Ihnen als erstem Benutzer.
home-developer-html = <a href="{ $href }">Als Entwickler registrieren</a>: ein Konto im Entwicklerportal.
home-signed-up = Schon registriert?
home-code-html = Sie haben eine E-Mail mit einem Code von uns? <a href="{ $href }">Code eingeben</a>.
home-forgot-html = Passwort vergessen oder noch keines festgelegt? <a href="{ $href }">Passwort-E-Mail anfordern</a>.

## Die Registrierungsformulare, abgeschickt.

check-email-title = Bitte prüfen Sie Ihr Postfach
spam-folder = Wenn in ein paar Minuten nichts ankommt, sehen Sie in Ihrem Spam-Ordner nach.
wrong-address = Falsche Adresse? Registrieren Sie sich erneut

## tenant_form.html

tenant-title = Ihr Unternehmen registrieren
tenant-sent-html = Wir haben einen Link an <strong>{ $email }</strong> gesendet. Öffnen Sie ihn, um Ihre Adresse zu bestätigen und Ihren Mandanten anzulegen.
tenant-company = Ihr Unternehmen
tenant-domain-hint = Der Name Ihres Mandanten in seinen Adressen: 1 bis 63 Kleinbuchstaben, Ziffern oder Bindestriche, nicht mit einem Bindestrich am Anfang oder Ende. Zum Beispiel acme oder acme-eu.
tenant-address = Postanschrift
tenant-choose-country = Land auswählen
tenant-show-states = Regionen anzeigen
tenant-choose-state = Bundesland oder Region auswählen
tenant-show-cities = Orte anzeigen
tenant-city-hint = Wählen Sie einen Ort aus der Liste oder geben Sie einen anderen ein.
tenant-zip-hint = Nötig, wo das Land Postleitzahlen verwendet.
tenant-zip-hint-example = Nötig, wo das Land Postleitzahlen verwendet, zum Beispiel { $example }.
tenant-you = Zu Ihrer Person
tenant-email-hint = Hierhin senden wir den Link, mit dem Sie die Registrierung abschließen.
tenant-terms = Ich akzeptiere die Nutzungsbedingungen (Version { $version }).
tenant-terms-html = Ich akzeptiere die <a href="{ $href }">Nutzungsbedingungen</a> (Version { $version }).
tenant-submit = Registrieren

## developer_form.html

developer-title = Als Entwickler registrieren
developer-sent-html = Wir haben einen Link an <strong>{ $email }</strong> gesendet. Öffnen Sie ihn, um Ihr Konto zu aktivieren und ein Passwort zu wählen.
developer-email-hint = Hierhin senden wir den Aktivierungslink.
developer-submit = Registrieren

## signup.html

signup-ready-title = Registrierung abschließen
signup-ready-html = Sie legen den Mandanten <strong>{ $cname }</strong> für <strong>{ $email }</strong> an.
signup-submit = Mein Konto anlegen
signup-not-meant = Nicht, was Sie wollten? Neu registrieren
signup-done-title = Willkommen an Bord
signup-done-html = Der Mandant <strong>{ $cname }</strong> ist bereit, mit <strong>{ $email }</strong> als erstem Benutzer.
go-to-console = Zu Ihrer Konsole
signup-done-no-console = Ihr Konto ist bereit: Melden Sie sich bei { $product } mit { $email } und dem Passwort an, das Sie gerade gewählt haben. Auf dieser Seite ist nichts weiter zu tun.
signup-forgot-later = Passwort später vergessen? Passwort-E-Mail anfordern
signup-expired-title = Dieser Link ist abgelaufen
signup-expired-superseded = Für diese Registrierung wurde ein neuerer Link gesendet, und nur der neueste gilt. Wir können Ihnen einen neuen senden.
signup-expired = Registrierungslinks gelten nur eine begrenzte Zeit, und nur der neueste gilt. Wir können Ihnen einen neuen senden.
signup-resend = Neuen Link senden
signup-or-start-new = Oder neu registrieren
signup-resent = Ein neuer Link ist unterwegs an die Adresse, mit der Sie sich registriert haben. Er ersetzt alle früheren.
signup-completed-title = Bereits erledigt
signup-completed-html = Diese Registrierung ist abgeschlossen: Der Mandant <strong>{ $cname }</strong> besteht, mit <strong>{ $email }</strong> als erstem Benutzer.
signup-completed-forgot = Noch kein Passwort oder vergessen? Passwort-E-Mail anfordern
link-dead-title = Dieser Link funktioniert nicht
link-cut = Prüfen Sie, ob der ganze Link aus der E-Mail kopiert wurde; manche E-Mail-Programme teilen lange Links in zwei.
signup-invalid = Prüfen Sie, ob der ganze Link aus der E-Mail kopiert wurde; manche E-Mail-Programme teilen lange Links in zwei. Sie können auch den Code aus der E-Mail eingeben.
type-code = Code aus der E-Mail eingeben

## password.html

password-ready-title = Passwort festlegen
password-for-html = Für <strong>{ $email }</strong> bei <strong>{ $cname }</strong>.
password-submit = Passwort festlegen
password-not-yours = Nicht Ihr Konto? Fordern Sie eine Passwort-E-Mail für Ihres an
password-done-title = Passwort festgelegt
password-done-html = Das Passwort von <strong>{ $email }</strong> bei <strong>{ $cname }</strong> ist festgelegt.
password-done-no-console-html = Das Passwort von <strong>{ $email }</strong> bei <strong>{ $cname }</strong> ist festgelegt: Melden Sie sich damit bei { $product } an.
password-sign-in = Bei Ihrer Konsole anmelden
password-expired = Passwort-Links gelten nur eine begrenzte Zeit, und dieser ist abgelaufen.
password-used = Mit diesem Link wurde bereits ein Passwort festgelegt; jeder Link gilt nur einmal.
password-superseded = Es wurde ein neuerer Passwort-Link gesendet, und nur der neueste gilt.
password-was-for-html = Er war für <strong>{ $email }</strong> bei <strong>{ $cname }</strong>.
password-ask-new = Neue Passwort-E-Mail anfordern

## forgot.html

forgot-title = Passwort-E-Mail anfordern
forgot-intro = Passwort vergessen oder noch keines festgelegt? Wir senden Ihnen einen Link, mit dem Sie ein neues festlegen.
forgot-cname-hint = Der Name Ihres Unternehmens in seinen Adressen, etwa acme: die Domain, die bei der Registrierung gewählt wurde.
forgot-submit = Link senden
forgot-sent-html = Wenn <strong>{ $email }</strong> ein Konto bei <strong>{ $cname }</strong> hat, ist ein Link zum Festlegen des Passworts unterwegs. Der Link gilt { $lasting }.
forgot-sent-nothing = Nach ein paar Minuten nichts da? Sehen Sie in Ihrem Spam-Ordner nach und prüfen Sie die Adresse und den Namen des Mandanten: Wir schreiben nur an Adressen, die dort ein Konto haben.
forgot-ask-again = Erneut anfordern, für eine andere Adresse oder einen anderen Mandanten

## activate.html

activation-ready-title = Konto aktivieren
activation-ready-html = Wählen Sie ein Passwort für <strong>{ $email }</strong>.
activation-submit = Aktivieren
activation-done-title = Ihr Konto ist aktiv
activation-done-html = <strong>{ $email }</strong> kann sich jetzt anmelden.
activation-done-no-console-html = <strong>{ $email }</strong> kann sich jetzt mit dem gewählten Passwort im Entwicklerportal anmelden.
activation-done-anyone = Sie können sich jetzt anmelden.
activation-done-anyone-no-console = Sie können sich jetzt mit dem gewählten Passwort im Entwicklerportal anmelden.
activation-portal = Zum Entwicklerportal
activation-expired = Aktivierungslinks gelten nur eine begrenzte Zeit, und dieser ist abgelaufen.
activation-used = Dieses Konto ist bereits aktiv: Melden Sie sich mit Ihrem Passwort an.
activation-superseded = Es wurde eine neuere Aktivierungs-E-Mail gesendet, und nur ihr Link gilt.
activation-invalid = Er ist vielleicht abgelaufen oder wurde schon verwendet, oder er wurde nicht vollständig kopiert.
activation-sign-up-again = Wenn Sie sich mit derselben Adresse erneut registrieren, erhalten Sie eine neue Aktivierungs-E-Mail.
activation-new-email = Erneut registrieren, um eine neue Aktivierungs-E-Mail zu erhalten

## code.html

code-title = Code eingeben
code-heading = Code aus Ihrer E-Mail eingeben
code-intro-html = Jede E-Mail mit einem Link enthält auch einen kurzen Code, etwa <code>{ $example }</code>. Geben Sie ihn hier zusammen mit der Adresse ein, an die die E-Mail ging, und Sie gelangen dorthin, wohin der Link führt.
code-hint = Groß- oder Kleinbuchstaben, mit oder ohne Bindestrich.
code-submit = Weiter
code-lost-email = E-Mail verloren? Neue Passwort-E-Mail anfordern

## error.html

error-rate-limited-title = Bitte warten Sie einen Moment
error-rate-limited = Aus Ihrem Netz kamen gerade sehr viele Anfragen, deshalb halten wir uns zurück, um Konten zu schützen. Versuchen Sie es in { $wait } erneut.
error-unavailable-title = Bitte versuchen Sie es gleich noch einmal
error-unavailable = Wir sind sehr ausgelastet oder kurz nicht erreichbar, und es wurde nichts gespeichert. Versuchen Sie es in { $wait } erneut.
error-internal-title = Bei uns ist etwas schiefgegangen
error-internal = Es lag nicht an Ihnen, und wir haben es vermerkt. Bitte versuchen Sie es in ein paar Minuten erneut.
error-too-large-title = Das Formular war zu groß zum Senden
error-too-large = Eine der Angaben ist viel länger, als ein Feld fasst. Gehen Sie zurück, kürzen Sie sie und senden Sie das Formular erneut.
error-cross-site-title = Dieses Formular kam von einer anderen Website
error-cross-site = Zu Ihrer Sicherheit nehmen wir nur Formulare von unseren eigenen Seiten an. Wenn Sie sich hier registrieren wollten, öffnen Sie das Formular unten und füllen Sie es auf dieser Website aus.
error-not-found-title = Hier ist nichts
error-not-found = Unter dieser Adresse gibt es keine Seite, oder von hier wird kein Entwicklerportal angeboten. Prüfen Sie die Adresse, oder beginnen Sie bei den Links unten.
error-account-exists-title = Sie haben bereits ein Konto
error-signup-completed = Diese Registrierung ist bereits abgeschlossen.
error-user-exists = Diese E-Mail-Adresse hat bereits ein Konto. Melden Sie sich damit an, oder fordern Sie eine Passwort-E-Mail an, wenn Sie das Passwort nicht kennen.
error-cname-taken-title = Dieser Name wurde inzwischen vergeben
error-cname-taken = Eine andere Registrierung hat sich den von Ihnen gewählten Namen des Mandanten gesichert, bevor Ihre abgeschlossen war; daher wurde nichts angelegt. Registrieren Sie sich erneut mit einem anderen Namen.
error-title = Etwas ist schiefgegangen
error-unreadable = Wir konnten nicht lesen, was gesendet wurde. Gehen Sie zurück, prüfen Sie das Formular und senden Sie es erneut.
sign-up-company = Ihr Unternehmen registrieren
sign-up-developer = Als Entwickler registrieren

## devmail.html

devmail-title = Entwicklungspostfach
devmail-intro-html = E-Mails, die usher über den Transport <code>dev</code> zugestellt hat, die neuesten zuerst. Auch als <a href="{ $href }">JSON</a>.
devmail-to = An
devmail-sent = Gesendet
devmail-message-id = Message-ID
devmail-open-link-html = Link<span class="visually-hidden"> der E-Mail „{ $subject }“ an { $to }</span> öffnen
devmail-empty = Noch keine E-Mails.
