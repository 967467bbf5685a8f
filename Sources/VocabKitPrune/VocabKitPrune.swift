// Counting and pruning live here (issue 4).
