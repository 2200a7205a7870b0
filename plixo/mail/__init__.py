"""The finance inbox and deliverability: the mailbox Plixo sends from and reads, its domains and their health."""
