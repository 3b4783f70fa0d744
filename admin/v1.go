package admin

// The dev API (samsa dev, samsa serve --ephemeral): virtual clusters, fault
// injection, the virtual clock, and killing and restarting brokers, for
// tests in any language (README.md has Java, Python and Go examples).
// Served once AttachHost has given the server a devcluster.Host; a
// production broker answers 404.
//
//	GET    /v1/clusters                                   every cluster
//	POST   /v1/clusters                                   create {id, brokers, port, properties, faults} -> 201, the cluster
//	GET    /v1/clusters/{id}                              one cluster: bootstrap, brokers and their state, clock
//	DELETE /v1/clusters/{id}                              stop it and delete its data
//	GET    /v1/clusters/{id}/faults                       the fault rules with their counts
//	POST   /v1/clusters/{id}/faults                       add a rule (broker.Fault) -> 201, the rule with its id
//	GET    /v1/clusters/{id}/faults/{fault}
//	DELETE /v1/clusters/{id}/faults/{fault}               remove one
//	DELETE /v1/clusters/{id}/faults                       remove all
//	GET    /v1/clusters/{id}/clock                        {now, offset}
//	POST   /v1/clusters/{id}/clock/advance                {"by": "25h"} -> {now, offset}
//	POST   /v1/clusters/{id}/brokers/{broker}/kill        crash-stop (no deregistration)
//	POST   /v1/clusters/{id}/brokers/{broker}/stop        clean stop
//	POST   /v1/clusters/{id}/brokers/{broker}/start       start again on its data and port
//	POST   /v1/clusters/{id}/brokers/{broker}/restart     {"kill": true} kill instead of stop, then start
//
// Errors are {"error": "..."} as in the console's API.

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/samsa-io/samsa/broker"
	"github.com/samsa-io/samsa/broker/config"
	"github.com/samsa-io/samsa/devcluster"
)

// v1Timeout bounds a cluster's creation or a broker's start.
const v1Timeout = 60 * time.Second

// hostRef is the attached dev host.
type hostRef struct {
	p atomic.Pointer[devcluster.Host]
}

// AttachHost serves h's clusters on /v1 from now on.
func (s *Server) AttachHost(h *devcluster.Host) { s.host.p.Store(h) }

func (s *Server) v1Routes(mux *http.ServeMux) {
	hh := func(pattern string, fn func(h *devcluster.Host, w http.ResponseWriter, r *http.Request)) {
		mux.Handle(pattern, s.guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := s.host.p.Load()
			if h == nil {
				writeError(w, http.StatusNotFound, "virtual clusters, faults and the clock are served by `samsa dev` and `samsa serve --ephemeral` only")
				return
			}
			fn(h, w, r)
		})))
	}
	ch := func(pattern string, fn func(c *devcluster.Cluster, w http.ResponseWriter, r *http.Request)) {
		hh(pattern, func(h *devcluster.Host, w http.ResponseWriter, r *http.Request) {
			c, ok := h.Get(r.PathValue("id"))
			if !ok {
				writeError(w, http.StatusNotFound, "no cluster "+strconv.Quote(r.PathValue("id")))
				return
			}
			fn(c, w, r)
		})
	}
	hh("GET /v1/clusters", s.v1List)
	hh("POST /v1/clusters", s.v1Create)
	ch("GET /v1/clusters/{id}", func(c *devcluster.Cluster, w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, clusterView(c))
	})
	hh("DELETE /v1/clusters/{id}", s.v1Delete)
	ch("GET /v1/clusters/{id}/faults", func(c *devcluster.Cluster, w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"faults": c.Faults().List()})
	})
	ch("POST /v1/clusters/{id}/faults", s.v1AddFault)
	ch("GET /v1/clusters/{id}/faults/{fault}", func(c *devcluster.Cluster, w http.ResponseWriter, r *http.Request) {
		f, ok := c.Faults().Get(r.PathValue("fault"))
		if !ok {
			writeError(w, http.StatusNotFound, "no fault "+strconv.Quote(r.PathValue("fault")))
			return
		}
		writeJSON(w, http.StatusOK, f)
	})
	ch("DELETE /v1/clusters/{id}/faults/{fault}", func(c *devcluster.Cluster, w http.ResponseWriter, r *http.Request) {
		if !c.Faults().Remove(r.PathValue("fault")) {
			writeError(w, http.StatusNotFound, "no fault "+strconv.Quote(r.PathValue("fault")))
			return
		}
		s.log.Info().Str("cluster", c.ID()).Str("fault", r.PathValue("fault")).Msg("fault removed")
		w.WriteHeader(http.StatusNoContent)
	})
	ch("DELETE /v1/clusters/{id}/faults", func(c *devcluster.Cluster, w http.ResponseWriter, r *http.Request) {
		n := c.Faults().Clear()
		s.log.Info().Str("cluster", c.ID()).Int("faults", n).Msg("faults removed")
		writeJSON(w, http.StatusOK, map[string]int{"removed": n})
	})
	ch("GET /v1/clusters/{id}/clock", func(c *devcluster.Cluster, w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, clockView(c))
	})
	ch("POST /v1/clusters/{id}/clock/advance", s.v1Advance)
	for _, action := range []string{"kill", "stop", "start", "restart"} {
		ch("POST /v1/clusters/{id}/brokers/{broker}/"+action, func(c *devcluster.Cluster, w http.ResponseWriter, r *http.Request) {
			s.v1Broker(c, action, w, r)
		})
	}
}

// clusterJSON is a cluster as the API shows it.
type clusterJSON struct {
	ID        string                    `json:"id"`
	ClusterID string                    `json:"clusterId"`
	Bootstrap string                    `json:"bootstrap"`
	Brokers   []devcluster.BrokerStatus `json:"brokers"`
	Faults    int                       `json:"faults"`
	Clock     clockJSON                 `json:"clock"`
}

type clockJSON struct {
	Now    time.Time       `json:"now"`
	Offset broker.Duration `json:"offset"`
}

func clusterView(c *devcluster.Cluster) clusterJSON {
	return clusterJSON{ID: c.ID(), ClusterID: c.ClusterID(), Bootstrap: c.Bootstrap(), Brokers: c.Brokers(),
		Faults: len(c.Faults().List()), Clock: clockView(c)}
}

func clockView(c *devcluster.Cluster) clockJSON {
	return clockJSON{Now: c.Clock().Now(), Offset: broker.Duration(c.Clock().Offset())}
}

func (s *Server) v1List(h *devcluster.Host, w http.ResponseWriter, r *http.Request) {
	out := []clusterJSON{}
	for _, c := range h.List() {
		out = append(out, clusterView(c))
	}
	writeJSON(w, http.StatusOK, map[string]any{"clusters": out})
}

func (s *Server) v1Create(h *devcluster.Host, w http.ResponseWriter, r *http.Request) {
	var spec devcluster.Spec
	if r.ContentLength != 0 && !readBody(w, r, &spec) {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), v1Timeout)
	defer cancel()
	c, err := h.Create(ctx, spec)
	if err != nil {
		status := http.StatusInternalServerError
		switch {
		case errors.Is(err, devcluster.ErrExists):
			status = http.StatusConflict
		case errors.Is(err, devcluster.ErrTooMany):
			status = http.StatusTooManyRequests
		case errors.Is(err, devcluster.ErrBadID), errors.Is(err, devcluster.ErrBadOptions), errors.Is(err, broker.ErrBadFault),
			errors.Is(err, config.ErrInvalid):
			status = http.StatusBadRequest
		}
		writeError(w, status, err.Error())
		return
	}
	s.log.Info().Str("cluster", c.ID()).Str("bootstrap", c.Bootstrap()).Msg("virtual cluster created")
	writeJSON(w, http.StatusCreated, clusterView(c))
}

func (s *Server) v1Delete(h *devcluster.Host, w http.ResponseWriter, r *http.Request) {
	err := h.Delete(r.PathValue("id"))
	switch {
	case errors.Is(err, devcluster.ErrNotFound):
		writeError(w, http.StatusNotFound, err.Error())
	case err != nil:
		writeError(w, http.StatusInternalServerError, err.Error())
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

func (s *Server) v1AddFault(c *devcluster.Cluster, w http.ResponseWriter, r *http.Request) {
	var f broker.Fault
	if !readBody(w, r, &f) {
		return
	}
	added, err := c.Faults().Add(f)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	s.log.Info().Str("cluster", c.ID()).Str("fault", added.ID).Str("api", added.API).Str("action", added.Action).
		Str("error", added.Error).Msg("fault added")
	writeJSON(w, http.StatusCreated, added)
}

func (s *Server) v1Advance(c *devcluster.Cluster, w http.ResponseWriter, r *http.Request) {
	var body struct {
		By broker.Duration `json:"by"`
	}
	if !readBody(w, r, &body) {
		return
	}
	if body.By <= 0 {
		writeError(w, http.StatusBadRequest, `give "by", a positive duration ("25h")`)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), v1Timeout)
	defer cancel()
	now := c.AdvanceClock(ctx, time.Duration(body.By))
	s.log.Info().Str("cluster", c.ID()).Dur("by", time.Duration(body.By)).Time("now", now).Msg("virtual clock advanced")
	writeJSON(w, http.StatusOK, clockView(c))
}

func (s *Server) v1Broker(c *devcluster.Cluster, action string, w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("broker"), 10, 32)
	if err != nil {
		writeError(w, http.StatusBadRequest, "broker: want a broker id")
		return
	}
	var body struct {
		Kill bool `json:"kill"`
	}
	if action == "restart" && r.ContentLength != 0 && !readBody(w, r, &body) {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), v1Timeout)
	defer cancel()
	bid := int32(id)
	switch action {
	case "kill":
		err = c.Kill(bid)
	case "stop":
		err = c.Stop(bid)
	case "start":
		err = c.StartBroker(ctx, bid)
	case "restart":
		err = c.Restart(ctx, bid, body.Kill)
	}
	switch {
	case errors.Is(err, devcluster.ErrNoBroker):
		writeError(w, http.StatusNotFound, err.Error())
		return
	case err != nil:
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	s.log.Info().Str("cluster", c.ID()).Int32("broker_id", bid).Str("action", action).Msg("dev cluster broker " + action)
	writeJSON(w, http.StatusOK, clusterView(c))
}
