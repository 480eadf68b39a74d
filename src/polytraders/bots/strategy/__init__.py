"""Strategy bots: propose place / cancel / replace intents from the desk view."""
