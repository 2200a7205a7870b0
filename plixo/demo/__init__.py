"""Synthetic workspaces: the deterministic demo seed, and the month of Autopilot that `flask simulate` referees."""
