"""Finnish: what the checks need to know of the language itself (base forms: lemma.py, Voikko)."""

# The personal pronouns of address and of us (the verb endings that say the same are Voikko's:
# lemma.features / lemma.address_forms).
YOU = frozenset("sinä sinun sinulla sinulle sinua sinusta te teidän teillä teille teitä teistä".split())
WE = frozenset("me meidän meillä meille meitä meistä".split())

# Function words: no content of their own. One list, used wherever content words count.
STOP_WORDS = frozenset(
    """ja tai mutta jos niin että kun kuin on ovat oli olivat olla ole ei en et emme ette eivät se ne tämä
    tämän nämä tuo nuo sinä te me he hän minä sinun teidän meidän heidän hänen minun myös vain jo vielä nyt
    sitten aina kanssa ilman mukaan yli alle ennen jälkeen kaikki jokainen joka jotka mikä kuka mitä miten
    miksi missä milloin koska siis sekä eli voi voit voida saada tehdä""".split()
)

# Case and possessive endings: a long word ending in one reads as Finnish.
CASE_ENDINGS = ("ssa", "ssä", "sta", "stä", "lla", "llä", "lta", "ltä", "lle", "ksi", "nsa", "nsä", "mme", "nne")
