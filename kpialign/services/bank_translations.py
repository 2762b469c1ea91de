"""Built-in translations of the shipped question bank (German, French, Spanish).

Written for employees, not translated word by word: the formal address (Sie, vous, usted), the
usual survey register in each language, and "KPIs" kept where companies use the English
acronym. :func:`kpialign.services.translations.sync_builtin` copies them into ``question_text``
for bank questions whose text is still the shipped English one; HR can edit them there.
"""

from __future__ import annotations

BANK_TRANSLATIONS: dict[str, dict[str, str]] = {
    "AW1": {
        "de": "Ich könnte die wichtigsten Ziele unserer Organisation für dieses Jahr nennen.",
        "fr": "Je pourrais citer les objectifs les plus importants de notre organisation pour cette année.",
        "es": "Podría nombrar los objetivos más importantes de nuestra organización para este año.",
    },
    "AW2": {
        "de": "Ich weiß, welche unserer strategischen Ziele gerade am wichtigsten sind.",
        "fr": "Je sais lesquels de nos objectifs stratégiques comptent le plus en ce moment.",
        "es": "Sé cuáles de nuestros objetivos estratégicos son los más importantes ahora mismo.",
    },
    "LS1": {
        "de": "Ich sehe, wie meine tägliche Arbeit der Organisation hilft, ihre Ziele zu erreichen.",
        "fr": "Je vois comment mon travail quotidien aide l’organisation à atteindre ses objectifs.",
        "es": "Veo cómo mi trabajo diario ayuda a la organización a alcanzar sus objetivos.",
    },
    "LS2": {
        "de": "Wenn ich entscheiden muss, woran ich arbeite, leiten mich unsere Ziele.",
        "fr": "Quand je dois choisir sur quoi travailler, nos objectifs guident mon choix.",
        "es": "Cuando tengo que decidir en qué trabajar, nuestros objetivos guían mi decisión.",
    },
    "LS3": {
        "de": "Meine persönlichen Ziele sind klar mit den Zielen meiner Abteilung verbunden.",
        "fr": "Mes objectifs personnels sont clairement liés à ceux de mon service.",
        "es": "Mis objetivos personales están claramente relacionados con los de mi departamento.",
    },
    "KU1": {
        "de": "Ich weiß, an welchen Kennzahlen (KPIs) meine Abteilung gemessen wird.",
        "fr": "Je sais sur quels indicateurs (KPI) mon service est évalué.",
        "es": "Sé con qué indicadores (KPI) se evalúa a mi departamento.",
    },
    "KU2": {
        "de": "Ich verstehe, wie meine Abteilung im Vergleich zu ihren Zielwerten dasteht.",
        "fr": "Je comprends où en est mon service par rapport à ses objectifs chiffrés.",
        "es": "Entiendo cómo va mi departamento respecto a sus metas.",
    },
    "CT1": {
        "de": "Andere Teams und meines arbeiten auf dieselben Prioritäten hin.",
        "fr": "Les autres équipes et la mienne travaillent vers les mêmes priorités.",
        "es": "Los demás equipos y el mío trabajamos hacia las mismas prioridades.",
    },
    "CT2": {
        "de": "Wenn Prioritäten zwischen Teams kollidieren, wird das schnell geklärt.",
        "fr": "Quand les priorités de plusieurs équipes entrent en conflit, la question est vite réglée.",
        "es": "Cuando las prioridades de distintos equipos chocan, se resuelve rápidamente.",
    },
    "LC1": {
        "de": "Führungskräfte erklären, warum wir diese strategischen Ziele haben.",
        "fr": "Les dirigeants expliquent les raisons de nos objectifs stratégiques.",
        "es": "Los directivos explican las razones de nuestros objetivos estratégicos.",
    },
    "LC2": {
        "de": "Meine Führungskraft spricht regelmäßig mit uns über die Fortschritte bei unseren Zielen.",
        "fr": "Mon responsable nous parle régulièrement de l’avancement de nos objectifs.",
        "es": "Mi responsable habla con nosotros con regularidad sobre cómo avanzan nuestros objetivos.",
    },
    "OBJ_PICK": {
        "de": "Welche davon sind strategische Ziele unserer Organisation? Wählen Sie alle zutreffenden aus.",
        "fr": "Lesquels de ces objectifs sont ceux de notre organisation ? Cochez toutes les réponses qui "
        "s’appliquent.",
        "es": "¿Cuáles de estos son objetivos estratégicos de nuestra organización? Marque todos los que correspondan.",
    },
    "COMMENT": {
        "de": "Möchten Sie uns noch etwas zu Zielen und Prioritäten sagen? (freiwillig)",
        "fr": "Souhaitez-vous nous dire autre chose sur nos objectifs et nos priorités ? (facultatif)",
        "es": "¿Quiere contarnos algo más sobre los objetivos y las prioridades? (opcional)",
    },
}

# The objective-pick item's decoys (question_bank.DECOY_OBJECTIVES), for display only: the answer is
# scored on the English option, so the survey page shows these as labels and submits the original.
DECOY_TRANSLATIONS: dict[str, dict[str, str]] = {
    "Open offices in three new countries": {
        "de": "Büros in drei neuen Ländern eröffnen",
        "fr": "Ouvrir des bureaux dans trois nouveaux pays",
        "es": "Abrir oficinas en tres países nuevos",
    },
    "Halve the number of products we sell": {
        "de": "Die Zahl unserer Produkte halbieren",
        "fr": "Réduire de moitié le nombre de produits que nous vendons",
        "es": "Reducir a la mitad el número de productos que vendemos",
    },
    "Become the lowest-price provider in every market": {
        "de": "In jedem Markt der günstigste Anbieter werden",
        "fr": "Devenir le fournisseur le moins cher sur chaque marché",
        "es": "Ser el proveedor más barato en todos los mercados",
    },
    "Move all staff to a four-day week": {
        "de": "Für alle Beschäftigten die Vier-Tage-Woche einführen",
        "fr": "Passer tout le personnel à la semaine de quatre jours",
        "es": "Pasar a toda la plantilla a la semana de cuatro días",
    },
    "Replace our sales team with online self-service": {
        "de": "Unser Vertriebsteam durch Online-Selbstbedienung ersetzen",
        "fr": "Remplacer notre équipe commerciale par un libre-service en ligne",
        "es": "Sustituir nuestro equipo comercial por autoservicio en línea",
    },
}
