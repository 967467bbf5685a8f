// The inference core lives here (issue 5).
