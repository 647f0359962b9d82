"""Finnish: what the checks need to know of the language itself (base forms: lemma.py, Voikko)."""

# Function words: no content of their own. One list, used wherever content words count.
STOP_WORDS = frozenset(
    """ja tai mutta jos niin että kun kuin on ovat oli olivat olla ole ei en et emme ette eivät se ne tämä
    tämän nämä tuo nuo sinä te me he hän minä sinun teidän meidän heidän hänen minun myös vain jo vielä nyt
    sitten aina kanssa ilman mukaan yli alle ennen jälkeen kaikki jokainen joka jotka mikä kuka mitä miten
    miksi missä milloin koska siis sekä eli voi voit voida saada tehdä""".split()
)

# Case and possessive endings: a long word ending in one reads as Finnish.
CASE_ENDINGS = ("ssa", "ssä", "sta", "stä", "lla", "llä", "lta", "ltä", "lle", "ksi", "nsa", "nsä", "mme", "nne")
