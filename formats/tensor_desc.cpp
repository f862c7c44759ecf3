// TEMPORARY placeholder: being written in parallel.
