"""The ground every layer stands on: settings, errors, languages, logging, Dutch name order
and the pure rate-limit arithmetic. Imports nothing of the hall's own."""
