package devcluster

// A Host serves many isolated clusters ("virtual clusters") from one
// process: each has its own brokers, listener ports, cluster id, etcd
// prefix (/samsa/vc/<id>/ in the Host's one etcd) and data directory, so
// that parallel CI jobs can share one samsa container without seeing each
// other's topics, groups or offsets. The admin API creates and deletes
// them (admin/v1.go).
//
// Deleting a virtual cluster deletes its data: its directory and its etcd
// keys. That is what the DELETE call is for. The Host removes only what it
// created itself: its root (made fresh by NewHost) and one directory per
// cluster under it, each holding a marker file with the Host's random token
// and the cluster's id; a directory whose marker is missing or names
// anything else is never removed (the Host logs it and keeps it).

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/rs/zerolog"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/samsa-io/samsa/broker"
)

// ownerFile marks a directory made by a Host: "<token> <what>\n".
const ownerFile = ".samsa-devcluster-owner"

// HostOptions configure a Host.
type HostOptions struct {
	// Parent is where the Host makes its root directory (default: the
	// system's temporary directory).
	Parent string
	// Host is the clusters' listener host (default 127.0.0.1).
	Host string
	// Properties are broker properties of every cluster (a Spec's go
	// over them).
	Properties map[string]string
	// MaxClusters bounds the clusters served at once (default 64).
	MaxClusters int
	Logger      zerolog.Logger
}

// Spec describes a cluster to create (the admin API's POST body).
type Spec struct {
	// ID is the cluster's name: lower-case letters, digits and '-', at
	// most 40; empty picks one ("vc-1", ...).
	ID         string            `json:"id,omitempty"`
	Brokers    int               `json:"brokers,omitempty"`
	Port       int               `json:"port,omitempty"` // first broker's port; 0: free ports
	Properties map[string]string `json:"properties,omitempty"`
	Faults     []broker.Fault    `json:"faults,omitempty"`
}

// Errors of the Host.
var (
	ErrExists      = errors.New("devcluster: a cluster with this id exists")
	ErrNotFound    = errors.New("devcluster: no such cluster")
	ErrTooMany     = errors.New("devcluster: too many clusters")
	ErrBadID       = errors.New("devcluster: bad cluster id")
	ErrNotOwned    = errors.New("devcluster: directory not made by this host; kept")
	errHostClosing = errors.New("devcluster: host closing")
)

var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,39}$`)

// Host serves clusters from one process and one etcd. Safe for concurrent
// use.
type Host struct {
	opts  HostOptions
	log   zerolog.Logger
	root  string
	token string
	etcd  *Etcd
	cli   *clientv3.Client

	mu       sync.Mutex
	clusters map[string]*hosted // guarded by mu
	creating map[string]bool    // guarded by mu: ids being created
	seq      int                // guarded by mu
	closed   bool               // guarded by mu
}

type hosted struct {
	c       *Cluster
	dir     string
	created time.Time
}

// NewHost makes its root directory and starts its etcd.
func NewHost(opts HostOptions) (*Host, error) {
	if opts.MaxClusters <= 0 {
		opts.MaxClusters = 64
	}
	if opts.Host == "" {
		opts.Host = "127.0.0.1"
	}
	var tok [16]byte
	_, _ = rand.Read(tok[:])
	h := &Host{opts: opts, log: opts.Logger, token: hex.EncodeToString(tok[:]),
		clusters: map[string]*hosted{}, creating: map[string]bool{}}
	root, err := os.MkdirTemp(opts.Parent, "samsa-dev-")
	if err != nil {
		return nil, fmt.Errorf("devcluster: make the host's directory: %w", err)
	}
	h.root = root
	if err := h.mark(root, "host"); err != nil {
		os.RemoveAll(root) // made a moment ago by MkdirTemp: ours
		return nil, err
	}
	e, err := StartEtcd(filepath.Join(root, "etcd"), h.log)
	if err != nil {
		os.RemoveAll(root)
		return nil, err
	}
	h.etcd = e
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{e.Endpoint()}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		e.Close()
		os.RemoveAll(root)
		return nil, err
	}
	h.cli = cli
	h.log.Info().Str("dir", root).Str("etcd", e.Endpoint()).Msg("dev host started")
	return h, nil
}

// Root is the Host's directory (removed by Close).
func (h *Host) Root() string { return h.root }

// mark writes the owner marker into dir.
func (h *Host) mark(dir, what string) error {
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(h.token+" "+what+"\n"), 0o600); err != nil {
		return fmt.Errorf("devcluster: mark %s: %w", dir, err)
	}
	return nil
}

// owns reports whether dir carries this Host's marker for what.
func (h *Host) owns(dir, what string) bool {
	b, err := os.ReadFile(filepath.Join(dir, ownerFile))
	return err == nil && string(b) == h.token+" "+what+"\n"
}

// removeOwned removes dir if it carries this Host's marker for what.
func (h *Host) removeOwned(dir, what string) error {
	if !h.owns(dir, what) {
		h.log.Error().Str("dir", dir).Str("owner", what).Msg("not removing a directory this host did not make (its marker is missing or foreign); it is kept")
		return fmt.Errorf("%w: %s", ErrNotOwned, dir)
	}
	return os.RemoveAll(dir)
}

// Create starts a cluster and returns once it serves clients.
func (h *Host) Create(ctx context.Context, spec Spec) (*Cluster, error) {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, errHostClosing
	}
	if spec.ID == "" {
		for {
			h.seq++
			spec.ID = "vc-" + strconv.Itoa(h.seq)
			if h.clusters[spec.ID] == nil && !h.creating[spec.ID] {
				break
			}
		}
	}
	switch {
	case !idPattern.MatchString(spec.ID):
		h.mu.Unlock()
		return nil, fmt.Errorf("%w: %q (want lower-case letters, digits and '-', at most 40, not starting with '-')", ErrBadID, spec.ID)
	case h.clusters[spec.ID] != nil || h.creating[spec.ID]:
		h.mu.Unlock()
		return nil, fmt.Errorf("%w: %s", ErrExists, spec.ID)
	case len(h.clusters)+len(h.creating) >= h.opts.MaxClusters:
		h.mu.Unlock()
		return nil, fmt.Errorf("%w: %d served (the host's limit)", ErrTooMany, h.opts.MaxClusters)
	}
	h.creating[spec.ID] = true
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		delete(h.creating, spec.ID)
		h.mu.Unlock()
	}()

	dir := filepath.Join(h.root, "clusters", spec.ID)
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return nil, err
	}
	// Mkdir, not MkdirAll: the directory must be new, so that it is ours.
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, fmt.Errorf("devcluster: cluster directory: %w", err)
	}
	if err := h.mark(dir, "cluster "+spec.ID); err != nil {
		return nil, err
	}
	props := map[string]string{}
	for k, v := range h.opts.Properties {
		props[k] = v
	}
	for k, v := range spec.Properties {
		props[k] = v
	}
	// Every cluster's controller would compact the shared etcd's whole
	// keyspace; the etcd's own periodic compaction does it once.
	if _, set := props["etcd.compaction.interval.ms"]; !set {
		props["etcd.compaction.interval.ms"] = "0"
	}
	c, err := Start(ctx, Options{
		ID: spec.ID, Brokers: spec.Brokers, Host: h.opts.Host, Port: spec.Port, Properties: props,
		DataDir: dir, EtcdEndpoints: []string{h.etcd.Endpoint()}, EtcdPrefix: h.prefix(spec.ID),
		Faults: spec.Faults, Logger: h.log,
	})
	if err != nil {
		h.discard(spec.ID, dir)
		return nil, err
	}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		c.Close()
		h.discard(spec.ID, dir)
		return nil, errHostClosing
	}
	h.clusters[spec.ID] = &hosted{c: c, dir: dir, created: time.Now()}
	h.mu.Unlock()
	return c, nil
}

func (h *Host) prefix(id string) string { return "/samsa/vc/" + id + "/" }

// discard removes what a cluster left in the etcd and on disk.
func (h *Host) discard(id, dir string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var errs []error
	if _, err := h.cli.Delete(ctx, h.prefix(id), clientv3.WithPrefix()); err != nil {
		errs = append(errs, fmt.Errorf("devcluster: delete the etcd keys of %s: %w", id, err))
	}
	if err := h.removeOwned(dir, "cluster "+id); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Get returns a served cluster.
func (h *Host) Get(id string) (*Cluster, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	hc := h.clusters[id]
	if hc == nil {
		return nil, false
	}
	return hc.c, true
}

// List returns the served clusters by id.
func (h *Host) List() []*Cluster {
	h.mu.Lock()
	defer h.mu.Unlock()
	ids := make([]string, 0, len(h.clusters))
	for id := range h.clusters {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	out := make([]*Cluster, 0, len(ids))
	for _, id := range ids {
		out = append(out, h.clusters[id].c)
	}
	return out
}

// Delete stops a cluster and deletes its data: its directory and its
// etcd keys.
func (h *Host) Delete(id string) error {
	h.mu.Lock()
	hc := h.clusters[id]
	delete(h.clusters, id)
	h.mu.Unlock()
	if hc == nil {
		return fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	cerr := hc.c.Close()
	err := h.discard(id, hc.dir)
	h.log.Info().Str("cluster", id).Str("dir", hc.dir).Msg("virtual cluster deleted with its data")
	return errors.Join(cerr, err)
}

// Close stops every cluster and the etcd, and removes the Host's
// directory.
func (h *Host) Close() error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	hs := h.clusters
	h.clusters = map[string]*hosted{}
	h.mu.Unlock()
	var errs []error
	for _, hc := range hs {
		errs = append(errs, hc.c.Close())
	}
	h.cli.Close()
	h.etcd.Close()
	if err := h.removeOwned(h.root, "host"); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
