"""Customer pages for the whole team: the customer list and one customer's account, read models only."""
