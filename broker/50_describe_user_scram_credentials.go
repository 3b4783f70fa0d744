package broker

// DescribeUserScramCredentials (key 50), v0 (KIP-554).
//
// DESCRIBE on the cluster is required (CLUSTER_AUTHORIZATION_FAILED). No
// users: every user with a credential. A user named twice is
// DUPLICATE_RESOURCE, one without credentials RESOURCE_NOT_FOUND. Salts
// and keys are never returned, only mechanisms and iterations.

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/broker/config"
)

func init() { register(kmsg.DescribeUserSCRAMCredentials, 0, 0, handleDescribeUserScramCredentials) }

// scramMechanismCode maps mechanism names to KIP-554's numbers.
var scramMechanismCode = map[string]int8{config.MechScramSHA256: 1, config.MechScramSHA512: 2}

func scramMechanismName(code int8) (string, bool) {
	switch code {
	case 1:
		return config.MechScramSHA256, true
	case 2:
		return config.MechScramSHA512, true
	}
	return "", false
}

func handleDescribeUserScramCredentials(b *Broker, rc *reqCtx, kreq kmsg.Request) kmsg.Response {
	req := kreq.(*kmsg.DescribeUserSCRAMCredentialsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeUserSCRAMCredentialsResponse)
	if !b.authorizeCluster(rc, kmsg.ACLOperationDescribe) {
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		return resp
	}
	snap := b.store.Snapshot()
	byUser := map[string][]kmsg.DescribeUserSCRAMCredentialsResponseResultCredentialInfo{}
	for k, c := range snap.SCRAM {
		ci := kmsg.NewDescribeUserSCRAMCredentialsResponseResultCredentialInfo()
		ci.Mechanism, ci.Iterations = scramMechanismCode[k.Mechanism], c.Iterations
		byUser[k.User] = append(byUser[k.User], ci)
	}
	result := func(user string) kmsg.DescribeUserSCRAMCredentialsResponseResult {
		r := kmsg.NewDescribeUserSCRAMCredentialsResponseResult()
		r.User = user
		infos, ok := byUser[user]
		if !ok {
			r.ErrorCode, r.ErrorMessage = kerr.ResourceNotFound.Code, strPtr("Attempt to describe a user credential that does not exist: "+user)
			return r
		}
		slices.SortFunc(infos, func(a, b kmsg.DescribeUserSCRAMCredentialsResponseResultCredentialInfo) int {
			return int(a.Mechanism) - int(b.Mechanism)
		})
		r.CredentialInfos = infos
		return r
	}
	if len(req.Users) == 0 {
		users := make([]string, 0, len(byUser))
		for u := range byUser {
			users = append(users, u)
		}
		slices.Sort(users)
		for _, u := range users {
			resp.Results = append(resp.Results, result(u))
		}
		return resp
	}
	count := map[string]int{}
	for _, u := range req.Users {
		count[u.Name]++
	}
	done := map[string]bool{}
	for _, u := range req.Users {
		if done[u.Name] {
			continue
		}
		done[u.Name] = true
		if count[u.Name] > 1 {
			r := kmsg.NewDescribeUserSCRAMCredentialsResponseResult()
			r.User, r.ErrorCode, r.ErrorMessage = u.Name, kerr.DuplicateResource.Code, strPtr("Cannot describe SCRAM credentials for the same user twice in a single request: "+u.Name)
			resp.Results = append(resp.Results, r)
			continue
		}
		resp.Results = append(resp.Results, result(u.Name))
	}
	return resp
}
