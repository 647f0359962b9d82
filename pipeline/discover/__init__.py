"""Before a campaign: finding each group's own words in its own texts (``ladder vocab``)."""
