"""The foundation every wing stands on: settings, credentials, the warehouse and its roles, locks. Imports no
other wing."""
