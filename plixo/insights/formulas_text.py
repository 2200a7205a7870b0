"""What each console figure means, in words: the (i) tooltips and the CSV's formula column say the same."""

FORMULAS = {
    "open_ar_minor": "Open A/R: open balances (open and disputed) of invoices issued on or before the day, in the "
                     "base currency at the day's rates. Currencies without a rate are listed apart.",
    "current_ar_minor": "Current A/R: the part of open A/R not yet past its due date.",
    "dso_countback_days": "Countback DSO: take open A/R, subtract each 30-day period's sales going back from the "
                          "day; each whole period adds 30 days, the last one its share of 30. Over 12 periods: "
                          "reported as 360, over 360.",
    "dso_standard_days": "Standard DSO: open A/R ÷ sales of the last 90 days × 90.",
    "bpdso_days": "Best-possible DSO: current A/R (not yet due) ÷ sales of the last 90 days × 90: DSO if nobody "
                  "paid late.",
    "add_days": "Average days delinquent: standard DSO − best-possible DSO.",
    "cei_percent": "Collection effectiveness over the 30 days to the day: (A/R at the start + sales − open A/R) ÷ "
                   "(A/R at the start + sales − current A/R) × 100; the start from that day's snapshot.",
    "promise_kept_rate": "Promise kept rate: kept ÷ (kept + broken) among promises due in the last 90 days, by "
                         "count.",
    "promise_kept_rate_amount_percent": "The same by amount promised.",
    "promises_at_risk_minor": "At risk: pending promises due within 7 days plus broken promises whose invoice is "
                              "still unpaid.",
    "cash_collected_minor": "Cash collected in the period: Stripe payments plus balances that imports or syncs "
                            "lowered (not credits or write-offs), each on the day recorded; refunds count against.",
    "cash_after_email_minor": "Cash from customers Plixo e-mailed in the 14 days before the payment.",
    "disputed_minor": "What open disputes contest: each dispute's part, or the whole balance of its invoices.",
    "aging_minor": "Open A/R by days past due on the day, in the workspace's time zone.",
    "exposure": "The ten customers owing most, their share of open A/R, and the share owed by high-risk customers.",
}
