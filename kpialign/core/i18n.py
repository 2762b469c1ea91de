"""The survey's languages: which one a respondent sees, and the survey page's own texts.

Pure data and rules (no database, no Streamlit). Question texts are translated in the database
(``question_text``, :mod:`kpialign.services.translations`); e-mail templates in ``mail_template``
(:mod:`kpialign.mail`). What lives here is the fixed wording of the survey and thank-you pages.

Language order (:func:`resolve_language`): ``?lang=`` on the link, then the signed-in user's
preference, then the browser's locale, then the wave's default. Anything unknown is skipped
silently, so a mistyped ``?lang=xx`` simply falls through to the next source.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

DEFAULT_LANGUAGE = "en"
LANGUAGES: dict[str, str] = {"en": "English", "de": "Deutsch", "fr": "Français", "es": "Español"}


def normalise(code: object) -> str | None:
    """``"de-CH"``, ``"DE"``, ``"de_DE"`` -> ``"de"``; ``None`` when not a supported language."""
    if not isinstance(code, str):
        return None
    base = code.strip().replace("_", "-").split("-", 1)[0].lower()
    return base if base in LANGUAGES else None


def resolve_language(
    *,
    query: object = None,
    account: object = None,
    browser: object = None,
    wave_default: object = None,
) -> str:
    """The first supported language of: link (``?lang=``), account preference, browser, wave default."""
    for candidate in (query, account, browser, wave_default):
        if (code := normalise(candidate)) is not None:
            return code
    return DEFAULT_LANGUAGE


_MONTHS = {
    "en": "January February March April May June July August September October November December",
    "de": "Januar Februar März April Mai Juni Juli August September Oktober November Dezember",
    "fr": "janvier février mars avril mai juin juillet août septembre octobre novembre décembre",
    "es": "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre",
}


def long_date(day: date, language: str) -> str:
    """A date the way a reader of ``language`` writes it: 14 December 2026, 14. Dezember 2026, ..."""
    lang = normalise(language) or DEFAULT_LANGUAGE
    month = _MONTHS[lang].split()[day.month - 1]
    if lang == "de":
        return f"{day.day}. {month} {day.year}"
    if lang == "es":
        return f"{day.day} de {month} de {day.year}"
    if lang == "fr" and day.day == 1:
        return f"1er {month} {day.year}"
    return f"{day.day} {month} {day.year}"


# The survey and thank-you pages. Keys are stable; {placeholders} are filled by :func:`text`.
# Markdown is allowed in these constants (they are ours, never user text).
TEXTS: dict[str, dict[str, str]] = {
    "title": {
        "en": "Line-of-sight survey",
        "de": "Umfrage: Unsere Ziele und Ihre Arbeit",
        "fr": "Enquête : nos objectifs et votre travail",
        "es": "Encuesta: nuestros objetivos y su trabajo",
    },
    "language": {"en": "Language", "de": "Sprache", "fr": "Langue", "es": "Idioma"},
    "open_until": {
        "en": "open until {date}",
        "de": "offen bis {date}",
        "fr": "ouverte jusqu’au {date}",
        "es": "abierta hasta el {date}",
    },
    "duration": {
        "en": "About 2 minutes. Every item has a “Prefer not to say” choice.",
        "de": "Etwa 2 Minuten. Bei jeder Frage können Sie „Keine Angabe“ wählen.",
        "fr": "Environ 2 minutes. Chaque question propose « Je préfère ne pas répondre ».",
        "es": "Unos 2 minutos. Cada pregunta tiene la opción «Prefiero no responder».",
    },
    "conf_title": {
        "en": "**Confidential, not anonymous** — what that means for you",
        "de": "**Vertraulich, nicht anonym** – was das für Sie bedeutet",
        "fr": "**Confidentiel, pas anonyme** – ce que cela signifie pour vous",
        "es": "**Confidencial, no anónima**: qué significa para usted",
    },
    "conf_body": {
        "en": (
            "- **What is stored:** your answers, your department and the day you answered. Not your name, "
            "e-mail, account, IP address or the time of day, and nothing that links your answers to your link.\n"
            "- **Who sees what:** leaders and HR see only results of groups of at least {k} people. Comments "
            "are shown, unattributed, only where at least {c} people commented. Nobody — not even an "
            "administrator — can see one person's answers.\n"
            "- **Why not anonymous:** your link is personal, so HR knows it was sent to you and can see how "
            "many links were used, but never what anyone answered. Please don't put your name or other "
            "identifying details in the comment."
        ),
        "de": (
            "- **Was gespeichert wird:** Ihre Antworten, Ihre Abteilung und der Tag, an dem Sie geantwortet "
            "haben. Nicht Ihr Name, Ihre E-Mail-Adresse, Ihr Konto, Ihre IP-Adresse oder die Uhrzeit – und "
            "nichts, was Ihre Antworten mit Ihrem Link verbindet.\n"
            "- **Wer was sieht:** Führungskräfte und HR sehen nur Ergebnisse von Gruppen mit mindestens {k} "
            "Personen. Kommentare werden ohne Namen nur gezeigt, wenn mindestens {c} Personen kommentiert "
            "haben. Niemand – auch keine Administratorin und kein Administrator – kann die Antworten einer "
            "einzelnen Person sehen.\n"
            "- **Warum nicht anonym:** Ihr Link ist persönlich. HR weiß also, dass er an Sie ging, und sieht, "
            "wie viele Links genutzt wurden – aber nie, was jemand geantwortet hat. Bitte schreiben Sie "
            "Ihren Namen oder andere erkennbare Angaben nicht in den Kommentar."
        ),
        "fr": (
            "- **Ce qui est enregistré :** vos réponses, votre service et le jour de votre réponse. Ni votre "
            "nom, ni votre adresse e-mail, ni votre compte, ni votre adresse IP, ni l’heure – et rien qui "
            "relie vos réponses à votre lien.\n"
            "- **Qui voit quoi :** la direction et les RH ne voient que les résultats de groupes d’au moins "
            "{k} personnes. Les commentaires ne sont affichés, sans nom, que si au moins {c} personnes ont "
            "commenté. Personne – pas même un administrateur – ne peut voir les réponses d’une personne.\n"
            "- **Pourquoi pas anonyme :** votre lien est personnel ; les RH savent donc qu’il vous a été "
            "envoyé et voient combien de liens ont été utilisés, mais jamais ce que quelqu’un a répondu. "
            "Merci de ne pas indiquer votre nom ni d’autres détails permettant de vous reconnaître dans "
            "le commentaire."
        ),
        "es": (
            "- **Qué se guarda:** sus respuestas, su departamento y el día en que respondió. Ni su nombre, ni "
            "su correo electrónico, ni su cuenta, ni su dirección IP, ni la hora, y nada que vincule sus "
            "respuestas con su enlace.\n"
            "- **Quién ve qué:** la dirección y RR. HH. solo ven resultados de grupos de al menos {k} "
            "personas. Los comentarios se muestran, sin nombre, solo si al menos {c} personas han "
            "comentado. Nadie, ni siquiera un administrador, puede ver las respuestas de una persona.\n"
            "- **Por qué no es anónima:** su enlace es personal, así que RR. HH. sabe que se le envió a usted "
            "y ve cuántos enlaces se han usado, pero nunca lo que alguien ha respondido. Por favor, no "
            "escriba su nombre ni otros datos que le identifiquen en el comentario."
        ),
    },
    "progress": {
        "en": "{done} of {total} answered",
        "de": "{done} von {total} beantwortet",
        "fr": "{done} sur {total} répondues",
        "es": "{done} de {total} respondidas",
    },
    "likert_1": {
        "en": "Strongly disagree",
        "de": "Stimme überhaupt nicht zu",
        "fr": "Pas du tout d’accord",
        "es": "Totalmente en desacuerdo",
    },
    "likert_2": {"en": "Disagree", "de": "Stimme nicht zu", "fr": "Pas d’accord", "es": "En desacuerdo"},
    "likert_3": {"en": "Neutral", "de": "Teils, teils", "fr": "Neutre", "es": "Neutral"},
    "likert_4": {"en": "Agree", "de": "Stimme zu", "fr": "D’accord", "es": "De acuerdo"},
    "likert_5": {
        "en": "Strongly agree",
        "de": "Stimme voll und ganz zu",
        "fr": "Tout à fait d’accord",
        "es": "Totalmente de acuerdo",
    },
    "prefer_not": {
        "en": "Prefer not to say",
        "de": "Keine Angabe",
        "fr": "Je préfère ne pas répondre",
        "es": "Prefiero no responder",
    },
    "comment_placeholder": {
        "en": "Optional. Please leave out names and anything that identifies you.",
        "de": "Freiwillig. Bitte lassen Sie Namen und alles weg, was Sie erkennbar macht.",
        "fr": "Facultatif. Merci de ne mentionner aucun nom ni rien qui permette de vous reconnaître.",
        "es": "Opcional. Por favor, no incluya nombres ni nada que permita identificarle.",
    },
    "unanswered": {
        "en": "{n} item(s) not answered yet; they will count as “prefer not to say”.",
        "de": "{n} Frage(n) noch offen; sie zählen als „Keine Angabe“.",
        "fr": "{n} question(s) sans réponse ; elles compteront comme « Je préfère ne pas répondre ».",
        "es": "{n} pregunta(s) sin responder; contarán como «Prefiero no responder».",
    },
    "submit": {
        "en": "Submit my answers",
        "de": "Antworten absenden",
        "fr": "Envoyer mes réponses",
        "es": "Enviar mis respuestas",
    },
    "thanks_title": {"en": "Thank you!", "de": "Vielen Dank!", "fr": "Merci !", "es": "¡Gracias!"},
    "thanks_saved": {
        "en": "Your answers have been saved.",
        "de": "Ihre Antworten wurden gespeichert.",
        "fr": "Vos réponses ont été enregistrées.",
        "es": "Sus respuestas se han guardado.",
    },
    "thanks_survey": {
        "en": "Survey: {wave}",
        "de": "Umfrage: {wave}",
        "fr": "Enquête : {wave}",
        "es": "Encuesta: {wave}",
    },
    "thanks_skipped": {
        "en": "You chose not to answer {n} item(s); that is completely fine.",
        "de": "Sie haben {n} Frage(n) nicht beantwortet – das ist völlig in Ordnung.",
        "fr": "Vous avez choisi de ne pas répondre à {n} question(s) ; c’est tout à fait normal.",
        "es": "Ha decidido no responder {n} pregunta(s); no pasa absolutamente nada.",
    },
    "thanks_body": {
        "en": (
            "Your answers are counted together with your colleagues'. Results are shown only for groups "
            "large enough that nobody can be singled out. You can close this page now."
        ),
        "de": (
            "Ihre Antworten werden zusammen mit denen Ihrer Kolleginnen und Kollegen ausgewertet. Ergebnisse "
            "werden nur für Gruppen gezeigt, die so groß sind, dass niemand herausgelesen werden kann. Sie "
            "können diese Seite jetzt schließen."
        ),
        "fr": (
            "Vos réponses sont comptées avec celles de vos collègues. Les résultats ne sont affichés que pour "
            "des groupes assez grands pour que personne ne puisse être identifié. Vous pouvez maintenant "
            "fermer cette page."
        ),
        "es": (
            "Sus respuestas se cuentan junto con las de sus compañeros. Los resultados solo se muestran para "
            "grupos lo bastante grandes como para que nadie pueda ser identificado. Ya puede cerrar esta "
            "página."
        ),
    },
    "link_unknown": {
        "en": "We could not find this survey link. Please check that you copied the whole link, or ask HR for a new one.",
        "de": "Wir konnten diesen Umfragelink nicht finden. Bitte prüfen Sie, ob Sie den ganzen Link kopiert "
        "haben, oder bitten Sie HR um einen neuen.",
        "fr": "Nous n’avons pas trouvé ce lien d’enquête. Vérifiez que vous avez copié le lien en entier, ou "
        "demandez-en un nouveau aux RH.",
        "es": "No hemos encontrado este enlace de la encuesta. Compruebe que ha copiado el enlace completo o "
        "pida uno nuevo a RR. HH.",
    },
    "link_used": {
        "en": "This survey link has already been used, so your answers are already in. Thank you! Each link can be used once.",
        "de": "Dieser Umfragelink wurde bereits verwendet, Ihre Antworten sind also schon da. Vielen Dank! "
        "Jeder Link kann einmal verwendet werden.",
        "fr": "Ce lien d’enquête a déjà été utilisé : vos réponses sont donc déjà enregistrées. Merci ! Chaque "
        "lien ne peut servir qu’une fois.",
        "es": "Este enlace ya se ha utilizado, así que sus respuestas ya están registradas. ¡Gracias! Cada "
        "enlace solo puede usarse una vez.",
    },
    "link_not_open": {
        "en": "This survey has not opened yet. Please come back once it has started.",
        "de": "Diese Umfrage hat noch nicht begonnen. Bitte kommen Sie wieder, sobald sie gestartet ist.",
        "fr": "Cette enquête n’a pas encore commencé. Revenez dès qu’elle sera ouverte.",
        "es": "Esta encuesta aún no ha comenzado. Vuelva cuando se haya abierto.",
    },
    "link_expired": {
        "en": "This survey has ended, so the link no longer works. Thank you for your interest.",
        "de": "Diese Umfrage ist beendet, der Link funktioniert daher nicht mehr. Danke für Ihr Interesse.",
        "fr": "Cette enquête est terminée : le lien ne fonctionne plus. Merci de votre intérêt.",
        "es": "Esta encuesta ha terminado, por lo que el enlace ya no funciona. Gracias por su interés.",
    },
    "link_closed": {
        "en": "This survey is closed, so the link no longer works. Thank you for your interest.",
        "de": "Diese Umfrage ist geschlossen, der Link funktioniert daher nicht mehr. Danke für Ihr Interesse.",
        "fr": "Cette enquête est close : le lien ne fonctionne plus. Merci de votre intérêt.",
        "es": "Esta encuesta está cerrada, por lo que el enlace ya no funciona. Gracias por su interés.",
    },
    "link_not_invited": {
        "en": "There is no survey for you to answer at the moment.",
        "de": "Im Moment gibt es keine Umfrage für Sie.",
        "fr": "Il n’y a pas d’enquête à laquelle répondre pour le moment.",
        "es": "En este momento no hay ninguna encuesta para usted.",
    },
    "link_revoked": {
        "en": "This survey link is no longer valid. If you received a newer link, please use that one, or ask HR.",
        "de": "Dieser Umfragelink ist nicht mehr gültig. Wenn Sie einen neueren Link erhalten haben, nutzen "
        "Sie bitte diesen, oder fragen Sie HR.",
        "fr": "Ce lien d’enquête n’est plus valable. Si vous avez reçu un lien plus récent, utilisez-le, ou "
        "adressez-vous aux RH.",
        "es": "Este enlace ya no es válido. Si ha recibido un enlace más reciente, utilícelo, o consulte a RR. HH.",
    },
    "none_now": {
        "en": "There is no survey for you to answer right now. If you received a personal survey link by e-mail, "
        "please open that link instead.",
        "de": "Im Moment gibt es keine Umfrage für Sie. Wenn Sie einen persönlichen Umfragelink per E-Mail "
        "erhalten haben, öffnen Sie bitte diesen Link.",
        "fr": "Il n’y a pas d’enquête à laquelle répondre pour le moment. Si vous avez reçu un lien personnel "
        "par e-mail, ouvrez plutôt ce lien.",
        "es": "En este momento no hay ninguna encuesta para usted. Si ha recibido un enlace personal por correo "
        "electrónico, ábralo en su lugar.",
    },
    "all_answered": {
        "en": "You have answered every open survey. Thank you!",
        "de": "Sie haben alle offenen Umfragen beantwortet. Vielen Dank!",
        "fr": "Vous avez répondu à toutes les enquêtes en cours. Merci !",
        "es": "Ha respondido a todas las encuestas abiertas. ¡Gracias!",
    },
    "which_survey": {"en": "Survey", "de": "Umfrage", "fr": "Enquête", "es": "Encuesta"},
    "error_prefix": {
        "en": "Your answers were not saved:",
        "de": "Ihre Antworten wurden nicht gespeichert:",
        "fr": "Vos réponses n’ont pas été enregistrées :",
        "es": "Sus respuestas no se han guardado:",
    },
}


def text(key: str, language: str, **values: object) -> str:
    """The page text ``key`` in ``language`` (English when that language lacks it), filled in."""
    variants = TEXTS[key]
    template = variants.get(normalise(language) or DEFAULT_LANGUAGE) or variants[DEFAULT_LANGUAGE]
    return template.format(**values) if values else template


def likert_labels(language: str) -> dict[int, str]:
    """Labels of the five agree-scale points in ``language``."""
    return {v: text(f"likert_{v}", language) for v in range(1, 6)}


def missing_texts(languages: Iterable[str] = LANGUAGES) -> list[tuple[str, str]]:
    """``(key, language)`` pairs without a text (a test keeps this empty)."""
    return [(k, lang) for k, variants in TEXTS.items() for lang in languages if not variants.get(lang)]
