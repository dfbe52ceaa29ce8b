package main

import "net/http"

// adminAPI is the /admin/* handler, nil while admin.token_file is unset.
func (s *server) adminAPI() http.Handler {
	return nil
}
