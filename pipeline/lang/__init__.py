"""What is language-specific: word tokens, stop words, sentence splitting, address forms,
lemmas (Voikko for Finnish). Depends on nothing else in ladder."""
