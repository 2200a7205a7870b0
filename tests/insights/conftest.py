from tests.insights.hand_ledger import ledger  # noqa: F401 - the hand-computed ledger, for every insights test
