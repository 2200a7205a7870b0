from dataclasses import FrozenInstanceError

import pytest

from plixo.values import Fix


def test_fix_is_frozen():
    fix = Fix("email_normalised", "A@B.COM", "a@b.com")
    with pytest.raises(FrozenInstanceError):
        fix.fixed = "x"  # type: ignore[misc]
