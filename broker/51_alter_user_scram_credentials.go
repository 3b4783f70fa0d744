package broker

// AlterUserScramCredentials (key 51), v0 (KIP-554).
//
// ALTER on the cluster is required (CLUSTER_AUTHORIZATION_FAILED for every
// user). Upsertions carry the salt and the salted password (the client
// derives it; kafka-configs.sh --add-config 'SCRAM-SHA-256=[password=...]'
// does), from which the broker keeps StoredKey and ServerKey only
// (coordinator/scram.go). Kafka's checks: an empty name or salted password
// is UNACCEPTABLE_CREDENTIAL, iterations outside 4096..16384 too, an
// unknown mechanism UNSUPPORTED_SASL_MECHANISM, a user and mechanism named
// twice DUPLICATE_RESOURCE, deleting a credential that does not exist
// RESOURCE_NOT_FOUND. The valid changes are written in one etcd
// transaction; the answer waits until this broker's snapshot has them.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/coordinator"
)

func init() { register(kmsg.AlterUserSCRAMCredentials, 0, 0, handleAlterUserScramCredentials) }

const (
	scramMinIterations = 4096
	scramMaxIterations = 16384
)

func handleAlterUserScramCredentials(b *Broker, rc *reqCtx, kreq kmsg.Request) kmsg.Response {
	req := kreq.(*kmsg.AlterUserSCRAMCredentialsRequest)
	resp := req.ResponseKind().(*kmsg.AlterUserSCRAMCredentialsResponse)
	type res struct {
		code int16
		msg  string
	}
	var order []string
	results := map[string]*res{}
	get := func(user string) *res {
		r := results[user]
		if r == nil {
			r = &res{}
			results[user] = r
			order = append(order, user)
		}
		return r
	}
	authorized := b.authorizeCluster(rc, kmsg.ACLOperationAlter)
	snap := b.store.Snapshot()
	seen := map[coordinator.SCRAMKey]int{}
	for _, d := range req.Deletions {
		if m, ok := scramMechanismName(d.Mechanism); ok {
			seen[coordinator.SCRAMKey{Mechanism: m, User: d.Name}]++
		}
	}
	for _, u := range req.Upsertions {
		if m, ok := scramMechanismName(u.Mechanism); ok {
			seen[coordinator.SCRAMKey{Mechanism: m, User: u.Name}]++
		}
	}
	var changes []coordinator.SCRAMChange
	var changed []string
	check := func(name string, mech int8) (coordinator.SCRAMKey, bool) {
		r := get(name)
		if r.code != 0 {
			return coordinator.SCRAMKey{}, false
		}
		m, ok := scramMechanismName(mech)
		switch {
		case !authorized:
			r.code = kerr.ClusterAuthorizationFailed.Code
		case name == "":
			r.code, r.msg = kerr.UnacceptableCredential.Code, "Username must not be empty"
		case !ok:
			r.code, r.msg = kerr.UnsupportedSaslMechanism.Code, "Unknown SCRAM mechanism"
		case seen[coordinator.SCRAMKey{Mechanism: m, User: name}] > 1:
			r.code, r.msg = kerr.DuplicateResource.Code, "A user credential cannot be altered twice in the same request"
		default:
			return coordinator.SCRAMKey{Mechanism: m, User: name}, true
		}
		return coordinator.SCRAMKey{}, false
	}
	for _, d := range req.Deletions {
		k, ok := check(d.Name, d.Mechanism)
		if !ok {
			continue
		}
		if _, exists := snap.SCRAM[k]; !exists {
			get(d.Name).code, get(d.Name).msg = kerr.ResourceNotFound.Code, "Attempt to delete a user credential that does not exist"
			continue
		}
		changes = append(changes, coordinator.SCRAMChange{Key: k})
		changed = append(changed, d.Name)
	}
	for _, u := range req.Upsertions {
		k, ok := check(u.Name, u.Mechanism)
		if !ok {
			continue
		}
		r := get(u.Name)
		switch {
		case u.Iterations < scramMinIterations:
			r.code, r.msg = kerr.UnacceptableCredential.Code, "Too few iterations"
			continue
		case u.Iterations > scramMaxIterations:
			r.code, r.msg = kerr.UnacceptableCredential.Code, "Too many iterations"
			continue
		case len(u.SaltedPassword) == 0 || len(u.Salt) == 0:
			r.code, r.msg = kerr.UnacceptableCredential.Code, "Salt and salted password must not be empty"
			continue
		}
		cred := scramCredential(k.Mechanism, u.Salt, u.SaltedPassword, u.Iterations)
		changes = append(changes, coordinator.SCRAMChange{Key: k, Credential: &cred})
		changed = append(changed, u.Name)
	}
	// A user with any failed change has none applied.
	kept := changes[:0]
	for i, c := range changes {
		if results[changed[i]].code == 0 {
			kept = append(kept, c)
		}
	}
	if len(kept) > 0 {
		ctx, cancel := context.WithTimeout(rc.ctx, aclWriteTimeout)
		defer cancel()
		rev, err := b.store.AlterSCRAM(ctx, kept)
		if err == nil {
			err = b.store.WaitForRevision(ctx, rev)
		}
		if err != nil {
			b.log.Error().Err(err).Msg("AlterUserScramCredentials: etcd write failed")
			for _, c := range kept {
				r := get(c.Key.User)
				r.code, r.msg = kerr.UnknownServerError.Code, "storing the credentials failed: "+err.Error()
			}
		}
	}
	for _, u := range order {
		r := kmsg.NewAlterUserSCRAMCredentialsResponseResult()
		r.User, r.ErrorCode = u, results[u].code
		if results[u].msg != "" {
			r.ErrorMessage = strPtr(results[u].msg)
		}
		resp.Results = append(resp.Results, r)
	}
	return resp
}
