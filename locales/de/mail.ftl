# Die Wörter der E-Mails von usher, auf Deutsch.

## Datumsangaben: 8. Dezember 2026, 00:49 UTC.

date-time = { $day }. { $month ->
        [1] Januar
        [2] Februar
        [3] März
        [4] April
        [5] Mai
        [6] Juni
        [7] Juli
        [8] August
        [9] September
        [10] Oktober
        [11] November
       *[12] Dezember
    } { $year }, { $time } { $zone }

## Gemeinsam.

mail-hello = Hallo { $name },
mail-hello-anyone = Hallo,
mail-copy-link = Oder kopieren Sie diese Adresse in Ihren Browser: { $link }
mail-type-code = Oder geben Sie diesen Code zusammen mit Ihrer E-Mail-Adresse auf { $page } ein:
mail-type-code-html = Oder geben Sie diesen Code zusammen mit Ihrer E-Mail-Adresse auf <a href="{ $page }">{ $page }</a> ein:

## signup_link

mail-signup-subject = Bestätigen Sie Ihre Registrierung für { $cname }
mail-signup-intro = Vielen Dank für Ihre Registrierung. Um den Mandanten „{ $cname }“ anzulegen und Ihr Passwort festzulegen, öffnen Sie diesen Link:
mail-signup-intro-html = Vielen Dank für Ihre Registrierung. Um den Mandanten <strong>{ $cname }</strong> anzulegen und Ihr Passwort festzulegen, öffnen Sie diesen Link:
mail-signup-button = Registrierung bestätigen
mail-signup-expiry = Der Link gilt bis { $expires_at }. Ist er abgelaufen, öffnen Sie ihn trotzdem: Auf der Seite können Sie einen neuen anfordern.
mail-signup-ignore = Wenn Sie sich nicht registriert haben, ignorieren Sie diese E-Mail; es wird nichts angelegt.

## password_link

mail-password-subject = Legen Sie Ihr Passwort für { $cname } fest
mail-password-intro = Um das Passwort Ihres Kontos in „{ $cname }“ festzulegen, öffnen Sie diesen Link:
mail-password-intro-html = Um das Passwort Ihres Kontos in <strong>{ $cname }</strong> festzulegen, öffnen Sie diesen Link:
mail-password-button = Passwort festlegen
mail-password-expiry = Der Link gilt bis { $expires_at } und nur einmal. Wenn Sie ihn nicht angefordert haben, ignorieren Sie diese E-Mail; Ihr Konto bleibt unverändert.

## activation_code

mail-activation-subject = Aktivieren Sie Ihr Entwicklerkonto
mail-activation-intro = Vielen Dank für Ihre Registrierung im Entwicklerportal. Um Ihr Konto zu aktivieren und ein Passwort zu wählen, öffnen Sie diesen Link:
mail-activation-button = Mein Konto aktivieren
mail-activation-expiry = Der Link gilt bis { $expires_at } und nur einmal. Wenn Sie sich nicht registriert haben, ignorieren Sie diese E-Mail; das Konto bleibt inaktiv.

## account_exists

mail-exists-subject = Sie haben bereits ein Konto
mail-exists-body = Jemand, vermutlich Sie, wollte sich mit dieser E-Mail-Adresse registrieren. Sie gehört bereits zu einem Konto, daher wurde nichts Neues angelegt.
mail-exists-advice = Wenn Sie Ihr Passwort vergessen haben, fordern Sie auf der Anmeldeseite eine Passwort-E-Mail an. Wenn Sie das nicht waren, können Sie diese E-Mail ignorieren.
