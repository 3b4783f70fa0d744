package broker

// DeleteAcls (key 31), v1-v3 (v0 was removed in Kafka 4, KIP-896, as Kafka 4.4 advertises).
//
//	v0: literal filters only.
//	v1: pattern types (KIP-290), MATCH and ANY included.
//	v2: flexible.
//	v3: same as v2.
//
// ALTER on the cluster is required; without an authorizer,
// SECURITY_DISABLED. Every binding a filter matches is deleted and listed
// in its result; the answer waits until this broker's snapshot no longer
// has them.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/coordinator"
)

func init() { register(kmsg.DeleteACLs, 1, 3, handleDeleteAcls) }

func handleDeleteAcls(b *Broker, rc *reqCtx, kreq kmsg.Request) kmsg.Response {
	req := kreq.(*kmsg.DeleteACLsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteACLsResponse)
	resp.Results = make([]kmsg.DeleteACLsResponseResult, len(req.Filters))
	for i := range resp.Results {
		resp.Results[i] = kmsg.NewDeleteACLsResponseResult()
	}
	fail := func(code int16, msg string) kmsg.Response {
		for i := range resp.Results {
			resp.Results[i].ErrorCode = code
			if msg != "" {
				resp.Results[i].ErrorMessage = strPtr(msg)
			}
		}
		return resp
	}
	switch {
	case b.authz == nil:
		return fail(kerr.SecurityDisabled.Code, noAuthorizerMessage)
	case !b.authorizeCluster(rc, kmsg.ACLOperationAlter):
		return fail(kerr.ClusterAuthorizationFailed.Code, "")
	}
	snap := b.store.Snapshot()
	var doomed []coordinator.ACL
	var touched []int
	for i, rf := range req.Filters {
		f := aclFilter{rt: rf.ResourceType, name: rf.ResourceName, pattern: rf.ResourcePatternType,
			principal: rf.Principal, host: rf.Host, op: rf.Operation, perm: rf.PermissionType}
		if why := f.invalid(); why != "" {
			resp.Results[i].ErrorCode, resp.Results[i].ErrorMessage = kerr.InvalidRequest.Code, strPtr(why)
			continue
		}
		for _, a := range snap.ACLs {
			if !f.matches(a) {
				continue
			}
			m := kmsg.NewDeleteACLsResponseResultMatchingACL()
			m.ResourceType, m.ResourceName, m.ResourcePatternType = kmsg.ACLResourceType(a.ResourceType), a.ResourceName, kmsg.ACLResourcePatternType(a.PatternType)
			m.Principal, m.Host, m.Operation, m.PermissionType = a.Principal, a.Host, kmsg.ACLOperation(a.Operation), kmsg.ACLPermissionType(a.Permission)
			resp.Results[i].MatchingACLs = append(resp.Results[i].MatchingACLs, m)
			doomed = append(doomed, a)
		}
		touched = append(touched, i)
	}
	if len(doomed) == 0 {
		return resp
	}
	ctx, cancel := context.WithTimeout(rc.ctx, aclWriteTimeout)
	defer cancel()
	rev, err := b.store.DeleteACLs(ctx, doomed)
	if err == nil {
		err = b.store.WaitForRevision(ctx, rev)
	}
	if err != nil {
		b.log.Error().Err(err).Int("acls", len(doomed)).Msg("DeleteAcls: etcd write failed")
		for _, i := range touched {
			resp.Results[i].MatchingACLs = nil
			resp.Results[i].ErrorCode, resp.Results[i].ErrorMessage = kerr.UnknownServerError.Code, strPtr("deleting the ACLs failed: "+err.Error())
		}
		return resp
	}
	b.log.Info().Str("principal", rc.principal()).Int("acls", len(doomed)).Msg("ACLs deleted")
	return resp
}
