"""Background jobs run by RQ workers. Job functions take ids, never ORM objects."""
