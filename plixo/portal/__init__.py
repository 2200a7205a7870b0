"""The payer mini-portal: tokenized pages where a customer pays, plans, disputes, promises or opts out."""
