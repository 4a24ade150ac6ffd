"""REST plumbing shared by every app's API: sign-in, errors, pagination, fields, periods."""
