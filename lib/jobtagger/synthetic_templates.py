"""The word lists and text templates synthetic postings are assembled from (:mod:`jobtagger.synthetic`).

Data only: locations per language, company name parts and legal forms, job boards, and the
sentences of a posting per language, written as one plain-text outline per language (read by
:func:`_templates`). The generator draws from them by hash; changing an entry changes the
generated postings of every seed.
"""

from __future__ import annotations

import textwrap

LOCATIONS = {
    "en": ["London|GB", "Manchester|GB", "Edinburgh|GB", "New York|US", "Austin|US", "Seattle|US",
           "Chicago|US", "Dublin|IE", "Cork|IE", "Toronto|CA"],
    "de": ["Berlin|DE", "München|DE", "Hamburg|DE", "Köln|DE", "Frankfurt am Main|DE", "Stuttgart|DE",
           "Wien|AT", "Graz|AT", "Zürich|CH", "Basel|CH"],
    "fr": ["Paris|FR", "Lyon|FR", "Toulouse|FR", "Nantes|FR", "Lille|FR", "Bordeaux|FR",
           "Bruxelles|BE", "Liège|BE", "Genève|CH", "Lausanne|CH"],
    "es": ["Madrid|ES", "Barcelona|ES", "Valencia|ES", "Sevilla|ES", "Bilbao|ES", "Málaga|ES",
           "Ciudad de México|MX", "Guadalajara|MX", "Buenos Aires|AR", "Bogotá|CO"],
}
LEGAL_FORMS = {"en": ["Ltd", "Inc.", "LLC", "plc"], "de": ["GmbH", "AG", "GmbH & Co. KG", "SE"],
               "fr": ["SAS", "SA", "SARL", "SE"], "es": ["S.L.", "S.A.", "S.L.U.", "S.A."]}
COMPANY_STEMS = ["Nord", "Blue", "Alpen", "Terra", "Nova", "Lumen", "Atlas", "Vertex", "Orbit", "Kite",
                 "Cedar", "Helio", "Quantum", "River", "Stone", "Pixel", "Iron", "Silver", "Green", "Delta"]
COMPANY_TAILS = ["wind", "soft", "works", "labs", "tech", "logic", "data", "systems", "group", "care",
                 "med", "build", "trade", "foods", "mobility", "energy", "retail", "partners", "consult", "line"]
SOURCES = ["linkedin|www.linkedin.com/jobs/view", "indeed|www.indeed.com/viewjob",
           "stepstone|www.stepstone.de/stellenangebote", "company_site|careers.example.com/jobs",
           "welcome_to_the_jungle|www.welcometothejungle.com/jobs", "infojobs|www.infojobs.net/oferta"]


def _templates(outline: str) -> dict[str, list[str]]:
    """One language's templates, kind -> variants, from its outline: ``kind: first variant``, then
    the kind's other variants on the lines below, indented (kinds in the outline's order)."""
    templates: dict[str, list[str]] = {}
    for line in textwrap.dedent(outline).strip("\n").splitlines():
        if line.startswith(" "):
            templates[kind].append(line.strip())
        else:
            kind, _, first = line.partition(": ")
            templates[kind] = [first]
    return templates


# Text templates per language (java.util.Formatter syntax: %1$s is the first argument), one
# variant a line.
TEMPLATES: dict[str, dict[str, list[str]]] = {
    "en": _templates("""
        intro: %1$s is a growing company based in %2$s.
               At %1$s in %2$s we build products our customers love.
               %1$s (%2$s) has been a trusted employer for more than twenty years.
        other_team: Our %1$s colleagues work right next door.
                    You will also collaborate with our %1$s team.
        role: As a %1$s %2$s you will join a friendly, international team.
              We are looking for a %1$s %2$s to strengthen our team.
              Your role: %1$s %2$s with real responsibility from day one.
        generic_role: Team Member
                      Specialist
                      Colleague
        skills_head: What you bring:
                     Your profile:
                     Requirements:
        skills_prose: You have solid experience with %1$s.
                      Ideally you know %1$s.
        avoid: Nice to avoid: %1$s.
               No %1$s experience needed.
               Not relevant for this role: %1$s.
        offer: We offer a competitive salary %1$s benefits.
               Flexible hours %1$s remote work options.
               Training budget %1$s a modern office.
        apply: Apply now!%1$sQuestions? Write to jobs@%2$s.com
               Send us your CV today.%1$sTeam %2$s
        experience: Internship for students.
                    0-2 years of experience.
                    3+ years of experience.
                    5+ years of professional experience.
                    8+ years of experience, including leading a team.
                    10+ years of experience leading departments.
    """),
    "de": _templates("""
        intro: %1$s ist ein wachsendes Unternehmen mit Sitz in %2$s.
               Bei %1$s in %2$s entwickeln wir Produkte, die unsere Kunden lieben.
               %1$s (%2$s) ist seit über zwanzig Jahren ein verlässlicher Arbeitgeber.
        other_team: Unsere Kollegen aus dem Bereich %1$s sitzen gleich nebenan.
                    Du arbeitest auch mit unserem Team %1$s zusammen.
        role: Als %1$s %2$s verstärkst du ein freundliches, internationales Team.
              Wir suchen einen %1$s %2$s zur Verstärkung unseres Teams.
              Deine Rolle: %1$s %2$s mit Verantwortung ab dem ersten Tag.
        generic_role: Mitarbeiter (m/w/d)
                      Fachkraft (m/w/d)
                      Kollege (m/w/d)
        skills_head: Das bringst du mit:
                     Dein Profil:
                     Anforderungen:
        skills_prose: Du hast fundierte Erfahrung mit %1$s.
                      Idealerweise kennst du %1$s.
        avoid: Keine Kenntnisse in %1$s nötig.
               %1$s ist für diese Stelle nicht relevant.
               Nicht erforderlich: %1$s.
        offer: Wir bieten ein attraktives Gehalt %1$s Zusatzleistungen.
               Flexible Arbeitszeiten %1$s Homeoffice.
               Weiterbildungsbudget %1$s ein modernes Büro.
        apply: Jetzt bewerben!%1$sFragen? Schreib an jobs@%2$s.de
               Sende uns noch heute deinen Lebenslauf.%1$sTeam %2$s
        experience: Praktikum für Studierende.
                    0-2 Jahre Berufserfahrung.
                    Mindestens 3 Jahre Berufserfahrung.
                    Mehr als 5 Jahre Berufserfahrung.
                    Über 8 Jahre Erfahrung, davon einige in Führung.
                    Über 10 Jahre Erfahrung in der Leitung von Abteilungen.
    """),
    "fr": _templates("""
        intro: %1$s est une entreprise en pleine croissance basée à %2$s.
               Chez %1$s à %2$s, nous créons des produits que nos clients adorent.
               %1$s (%2$s) est un employeur reconnu depuis plus de vingt ans.
        other_team: Nos collègues %1$s travaillent juste à côté.
                    Vous collaborerez aussi avec notre équipe %1$s.
        role: En tant que %2$s %1$s, vous rejoindrez une équipe internationale et bienveillante.
              Nous recherchons un %2$s %1$s pour renforcer notre équipe.
              Votre rôle : %2$s %1$s avec de vraies responsabilités dès le premier jour.
        generic_role: Collaborateur (H/F)
                      Spécialiste
                      Équipier (H/F)
        skills_head: Votre profil :
                     Ce que vous apportez :
                     Compétences requises :
        skills_prose: Vous maîtrisez %1$s.
                      Idéalement, vous connaissez %1$s.
        avoid: Aucune connaissance en %1$s requise.
               %1$s n'est pas nécessaire pour ce poste.
               Pas besoin de %1$s.
        offer: Nous offrons un salaire attractif %1$s des avantages.
               Horaires flexibles %1$s télétravail.
               Budget formation %1$s bureaux modernes.
        apply: Postulez dès maintenant !%1$sContact : jobs@%2$s.fr
               Envoyez-nous votre CV.%1$sL'équipe %2$s
        experience: Stage pour étudiants.
                    0 à 2 ans d'expérience.
                    Au moins 3 ans d'expérience.
                    Plus de 5 ans d'expérience professionnelle.
                    Plus de 8 ans d'expérience dont du management.
                    Plus de 10 ans d'expérience en direction de services.
    """),
    "es": _templates("""
        intro: %1$s es una empresa en crecimiento con sede en %2$s.
               En %1$s (%2$s) creamos productos que encantan a nuestros clientes.
               %1$s (%2$s) es un empleador de confianza desde hace más de veinte años.
        other_team: Nuestros compañeros de %1$s trabajan justo al lado.
                    También colaborarás con nuestro equipo de %1$s.
        role: Como %2$s %1$s te unirás a un equipo internacional y cercano.
              Buscamos un %2$s %1$s para reforzar nuestro equipo.
              Tu rol: %2$s %1$s con responsabilidad real desde el primer día.
        generic_role: Colaborador
                      Especialista
                      Miembro del equipo
        skills_head: Qué aportas:
                     Tu perfil:
                     Requisitos:
        skills_prose: Tienes experiencia sólida con %1$s.
                      Idealmente conoces %1$s.
        avoid: No se requiere %1$s.
               %1$s no es relevante para este puesto.
               No necesitas saber %1$s.
        offer: Ofrecemos un salario competitivo %1$s beneficios.
               Horario flexible %1$s teletrabajo.
               Presupuesto de formación %1$s oficina moderna.
        apply: ¡Inscríbete ahora!%1$sDudas: jobs@%2$s.es
               Envíanos tu CV hoy.%1$sEquipo %2$s
        experience: Prácticas para estudiantes.
                    0-2 años de experiencia.
                    Al menos 3 años de experiencia.
                    Más de 5 años de experiencia profesional.
                    Más de 8 años de experiencia liderando equipos.
                    Más de 10 años de experiencia dirigiendo departamentos.
    """),
}
