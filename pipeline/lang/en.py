"""English: what the checks need to know of the language itself (base forms: lemma.py)."""

# The reader addressed, and us: how the check reads address and the reader weighs talk of us.
YOU = frozenset("you your yours yourself you're you'll you've".split())
WE = frozenset("we our ours us we're we'll we've".split())

# Function words: no content of their own. One list, used wherever content words count.
STOP_WORDS = frozenset(
    """a an the and or but if then so of to in on at by for with from as is are was were be been being
    it its this that these those you your yours we our us they them their he she his her i me my not no yes
    can will would should could may might must do does did have has had than too very just also more most
    all any each every some such what which who whom whose when where why how there here about into over
    out up down off again only own same other get""".split()
)
