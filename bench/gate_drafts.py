"""Good drafts for the gate benchmark, written by hand for the shipped example (Lämpövirta Oy)
and one extra English segment outside the target (``landlords``, added by bench/gate.py).

Each is the piece a skilled copywriter would hand in for its job: the segment's own words and
tone, the core's concepts in the segment's terms, only the facts of the proof points, the
channel's parts and limits. Original text, written for ladder's benchmark.
"""

GOOD: dict[tuple[str, str], dict[str, str]] = {
    # --- board: housing company board members (fi, te, calm, step 3 relevance) ---------------
    ("board", "email"): {
        "subject": "Mitä kevään lämmityskulut tekevät vastikkeelle?",
        "preheader": "Hallitukselle päätös, jonka voi perustella osakkaille.",
        "body": "Hyvä hallituksen jäsen, kaukolämmön hinta nousee taas, ja osakkaat kysyvät, mitä se "
                "tarkoittaa vastikkeelle. Lämpövirta siirtää taloyhtiönne maalämpöön, eikä taloyhtiö ota lainaa. "
                "Ei lainaa taloyhtiölle, eikä erillistä rahoitusvastiketta.\n\n"
                "Huolto kuuluu palveluun koko sopimuksen ajan. Teille se tarkoittaa pienemmät lämmityskulut "
                "ensimmäisestä kuukaudesta alkaen. Niissä 14 taloyhtiössä, jotka ovat käyttäneet palvelua yli "
                "vuoden, lämmityskulut laskivat keskimäärin 32 %. Näillä luvuilla päätöksen voi perustella "
                "yhtiökokoukselle.",
        "call_to_action": "Varaa 20 minuutin puhelu",
    },
    ("board", "blog_intro"): {
        "title": "Nouseeko vastike ensi vuonna? Kolme kysymystä hallitukselle ennen yhtiökokousta",
        "intro": "Moni hallitus valmistelee kevään yhtiökokousta samalla huolella: miten lämmityskulut "
                 "pidetään kurissa niin, ettei vastike nouse joka vuosi? Osakkaat haluavat päätöksen, jonka "
                 "perustelut ymmärtää. Maalämpö palveluna on yksi vastaus. Taloyhtiö ei ota lainaa, koska "
                 "laitoksen omistaa Lämpövirta, ja huolto kuuluu palveluun. Ei lainaa taloyhtiölle tarkoittaa "
                 "myös, ettei lainaosuuksia tarvitse jakaa osakkaille. Tavoitteena on pienemmät lämmityskulut "
                 "heti ensimmäisestä kuukaudesta. Käymme alla läpi, mitä hallituksen kannattaa kysyä.",
    },
    ("board", "landing_hero"): {
        "headline": "Pienemmät lämmityskulut ilman lainaa",
        "subheadline": "Hallitukselle: ei lainaa taloyhtiölle, huolto kuuluu palveluun. Mitä se tekee "
                       "teidän vastikkeellenne?",
        "call_to_action": "Laske säästösi",
    },
    ("board", "print_ad"): {
        "headline": "Vastike kuriin ennen yhtiökokousta?",
        "body": "Taloyhtiöiden hallituksille: maalämpö palveluna. Ei lainaa taloyhtiölle, huolto kuuluu "
                "palveluun ja lämmityskulut ovat pienemmät ensimmäisestä kuukaudesta. Kysykää, miten "
                "päätös perustellaan osakkaille.",
        "call_to_action": "lampovirta.fi/hallitus",
    },
    # --- manager: property managers (fi, te, steady, short sentences, step 4 differentiation) ----
    ("manager", "email"): {
        "subject": "Yksi sopimus, yksi yhteyshenkilö",
        "preheader": "Toisin kuin energiaremontti, tämä ei ole rahoitushanke.",
        "body": "Hyvä isännöitsijä,\n\nenergiaremontti tarkoittaa yleensä lainaa, urakoitsijoita ja "
                "kuukausien koordinointia. Lämpövirta toimii toisin. Ei rahoitushanketta: laitoksen "
                "omistamme me. Kunnossapito meiltä koko sopimuksen ajan.\n\nVikailmoitukset tulevat suoraan "
                "meille. Seuraamme jokaista laitosta etänä, ja asentaja on paikalla 8 tunnissa. Kuntoarvioon "
                "voitte kirjata ennustettavat lämmityskulut, sillä kuukausimaksu on kiinteä 15 vuoden ajan.",
        "call_to_action": "Varaa 20 minuutin puhelu",
    },
    ("manager", "linkedin"): {
        "post": "Isännöitsijä, kuinka monta toimittajaa hankkeessanne on?\n\nTavallinen energiaremontti "
                "on rahoitushanke: laina, kilpailutus ja monta urakoitsijaa. Meillä se on toisin. Ei "
                "rahoitushanketta, sillä Lämpövirta omistaa laitoksen. Kunnossapito meiltä koko sopimuksen "
                "ajan.\n\nVikailmoitukset ohjautuvat meille. Jokaista laitosta seurataan etänä, ja asentaja "
                "on paikalla 8 tunnissa. Kuukausimaksu on kiinteä 15 vuoden ajan, joten kuntoarvioon saatte "
                "ennustettavat lämmityskulut.\n\nYksi sopimus, yksi yhteyshenkilö.",
        "hashtags": "#isännöinti #maalämpö",
    },
    ("manager", "landing_hero"): {
        "headline": "Ei rahoitushanketta. Kunnossapito meiltä.",
        "subheadline": "Toisin kuin energiaremontissa, isännöitsijä saa yhden sopimuksen, "
                       "ennustettavat lämmityskulut ja kuntoarvioon selkeän rivin.",
        "call_to_action": "Laske säästösi",
    },
    # --- investors: asset managers (en, you, calm, step 2 understanding) ----------------------
    ("investors", "linkedin"): {
        "post": "What does a heating change do to net operating income?\n\nWith Lämpövirta, a housing "
                "asset moves off district heating with no capital expenditure: we design, build, own and run "
                "the ground-source plant. You get a fully managed plant and lower operating costs from the "
                "first month, and the monthly fee is fixed for 15 years. That makes operating costs "
                "predictable across your portfolio.\n\nAcross 14 housing companies on the service for over a "
                "year, heating cost fell by 32 % on average (2025 metering). A figure you can put in the ESG "
                "report.",
        "hashtags": "#realestate #ESG",
    },
    ("investors", "blog_intro"): {
        "title": "Heating as a service: what it does to operating costs in a portfolio",
        "intro": "For an asset manager, heating is one of the few operating costs that can move net operating "
                 "income in either direction. Ground-source heating as a service changes the terms. There is "
                 "no capital expenditure: Lämpövirta designs, builds, owns and runs the plant, so you hold a "
                 "fully managed plant instead of a project. The aim is lower operating costs from the first "
                 "month, with the monthly fee fixed for 15 years. Below, we look at how that reads in your "
                 "portfolio figures and in ESG reporting.",
    },
    ("investors", "landing_hero"): {
        "headline": "Lower operating costs, no capital expenditure",
        "subheadline": "A fully managed plant for each asset in your portfolio, with the monthly fee fixed "
                       "for 15 years.",
        "call_to_action": "Calculate your savings",
    },
    ("investors", "video_script"): {
        "scene": "A residential block in winter light. An asset manager reads a one-page summary at her desk.",
        "voiceover": "What does heating do to your net operating income? With Lämpövirta, the asset moves off "
                     "district heating with no capital expenditure. We build, own and run a fully managed plant. "
                     "You get lower operating costs from the first month, and a fixed monthly fee for 15 years. "
                     "Predictable costs across your portfolio.",
        "end_card": "Lämpövirta: heating as a service",
    },
    # --- residents: residents of buildings on the service (fi, sinä, lively, step 5 delivery) --
    ("residents", "email"): {
        "subject": "Talvi meni, kotisi pysyi lämpimänä",
        "preheader": "Kiitos, että olit mukana ensimmäisenä talvena maalämmöllä.",
        "body": "Hei asukas!\n\nPakkasta riitti, mutta lämpö pysyi tasaisena. Asukkaat antoivat "
                "asumismukavuudelle arvosanan 4,6/5 viime kyselyssämme, 412 vastausta. Kiitos, että vastasit!"
                "\n\nVastike ei nouse lämmityksen takia, eikä ylimääräistä vastiketta tule. Me huolehdimme "
                "laitteista, sinä nautit kodista.\n\nOnko kysyttävää talon lämmöstä? Varaa puhelu, niin "
                "kerromme lisää.",
        "call_to_action": "Varaa 20 minuutin puhelu",
    },
    ("residents", "sms"): {
        "text": "Hei! Vastike ei nouse lämmityksen takia, eikä ylimääräistä vastiketta tule. Me huolehdimme "
                "laitteista. Suosittele meitä naapurille: {link}",
    },
    ("residents", "video_script"): {
        "scene": "Pakkasaamu kerrostalon pihalla. Asukas tulee kotiin, riisuu pipon ja hymyilee lämpimässä "
                 "eteisessä.",
        "voiceover": "Ulkona paukkuu pakkanen, mutta kotisi on lämmin. Asukkaat antoivat asumismukavuudelle "
                     "arvosanan 4,6/5. Vastike ei nouse lämmityksen takia, eikä ylimääräistä vastiketta tule. Me "
                     "huolehdimme laitteista koko talven. Kerro naapurillekin!",
        "end_card": "Lämpövirta – lämpöä kotiin",
    },
    ("residents", "referral"): {
        "subject": "Kiitos talvesta – kerro naapurille!",
        "preheader": "Lämmin koti ja vastike, joka ei nouse lämmityksen takia.",
        "body": "Hei!\n\nKiitos, että olet ollut mukana. Talvi on takana, ja lämpö pysyi tasaisena kovillakin "
                "pakkasilla. Vastike ei nouse lämmityksen takia, eikä ylimääräistä vastiketta tule. Me "
                "huolehdimme laitteista, niin sinun ei tarvitse.\n\nTunnetko naapuritalon asukkaan, joka "
                "miettii samaa? Kerro hänelle, miten talvi meni, ja anna hallitukselle vinkki meistä.",
        "call_to_action": "Suosittele meitä toiselle taloyhtiölle",
    },
    # --- engineers: HVAC design engineers (en, you, steady, step 4 differentiation) -----------
    ("engineers", "linkedin"): {
        "post": "Unlike most heat pump offers, this one does not end at commissioning.\n\nWe design the "
                "borehole field and size it to your radiator network, then build, own and run the plant. "
                "It stays an operated and monitored plant for the whole contract, with a technician on site "
                "within 8 hours. The client gets lower energy cost per MWh with no capital outlay for the "
                "client.\n\nAnd you get the metering data. Check the COP in January yourself, not in a "
                "brochure.",
        "hashtags": "#HVAC #groundsource",
    },
    ("engineers", "blog_intro"): {
        "title": "An old radiator network, a ground-source plant, and who runs it",
        "intro": "You have seen heat pumps oversold by installers who leave after commissioning. Our model is "
                 "different: we design the borehole field for the building's radiator network, then own it as "
                 "an operated and monitored plant for the whole contract. Your client gets lower energy cost "
                 "per MWh and no capital outlay for the client. Unlike a one-off installation, the metering "
                 "data is shared with you, so you can check the COP against your design in the coldest weeks.",
    },
    # --- homeowners: outside the target (fi, sinä, calm): not for you -------------------------
    ("homeowners", "landing_hero"): {
        "headline": "Palvelumme on tehty taloyhtiöille",
        "subheadline": "Emme lämmitä omakotitaloja. Oman talon lämmityksestä saat apua paikalliselta "
                       "lämpöasentajalta.",
        "call_to_action": "Lue lisää meistä",
    },
    ("homeowners", "print_ad"): {
        "headline": "Omakotitalo? Emme ole sinua varten.",
        "body": "Lämpövirta lämmittää kerrostaloja ja rivitaloyhtiöitä. Oman talon maalämmöstä kannattaa "
                "kysyä lähialueen asentajalta.",
        "call_to_action": "Kiitos, että luit",
    },
    # --- landlords: outside the target (en, you, calm), added by the benchmark ----------------
    ("landlords", "landing_hero"): {
        "headline": "Built for housing companies, not single flats",
        "subheadline": "If you let out a single flat, our service is not for you. A local heating "
                       "engineer will serve you better.",
        "call_to_action": "About Lämpövirta",
    },
    ("landlords", "print_ad"): {
        "headline": "Letting a single flat? This is not for you.",
        "body": "Lämpövirta heats whole apartment buildings for their housing companies. For one flat, your "
                "housing company board is the right place to ask.",
        "call_to_action": "Thank you for reading",
    },
}

LANDLORDS = """\
id: landlords
name: Private landlords of single flats
language: en
role: outside_target
current_step: 1
value_drivers: [economic]
vocabulary:
  use: [flat, landlord]
tone:
  formality: neutral
  address: you
  energy: calm
  sentence_length: short
channels: [landing_hero, print_ad]
"""
