"""The admin side: operators, the scoped listings, the admin JSON API and exports."""
