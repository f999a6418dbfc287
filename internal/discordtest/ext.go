package discordtest

import "net/http"

// extensions are the parts of the fake that sit around the handlers. Each lives in its own
// file with its own lock.
type extensions struct {
	gw      *hub       // gateway.go: sessions and event dispatch
	limits  *limiter   // ratelimit.go: per-route buckets and the global limit
	faults  *faultSet  // faults.go: injected failures
	spec    *validator // openapi.go: request and response validation
	observe *observer  // observe.go: handler timing and the request observer
}

func (e *extensions) init(s *Server) {
	e.gw = newHub(s)
	e.limits = newLimiter(s)
	e.faults = newFaultSet(s)
	e.spec = newValidator(s)
	e.observe = newObserver(s)
}

func (e *extensions) close() { e.gw.close() }

func (e *extensions) injectFault(w http.ResponseWriter, r *http.Request, route string) bool {
	return e.faults.inject(w, r, route)
}

func (e *extensions) admit(w http.ResponseWriter, r *http.Request, route string) bool {
	return e.limits.admit(w, r, route)
}

func (e *extensions) checkRequest(r *Request) *apiError { return e.spec.checkRequest(r) }

func (e *extensions) checkResponse(r *Request, resp Response) { e.spec.checkResponse(r, resp) }
