package broker

// CreateAcls (key 30), v1-v3 (v0 was removed in Kafka 4, KIP-896, as Kafka 4.4 advertises).
//
//	v0: literal resource names only.
//	v1: pattern types (KIP-290): LITERAL or PREFIXED.
//	v2: flexible.
//	v3: same as v2.
//
// ALTER on the cluster is required (CLUSTER_AUTHORIZATION_FAILED for every
// creation); without an authorizer, SECURITY_DISABLED. Each binding is
// checked as Kafka's AclControlManager checks it (INVALID_REQUEST); the
// valid ones are stored in etcd (coordinator/acls.go) and the answer waits
// until this broker's snapshot has them, so the creator's next request is
// judged by them. Creating a binding that exists is a success.

import (
	"context"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/coordinator"
)

func init() { register(kmsg.CreateACLs, 1, 3, handleCreateAcls) }

// aclWriteTimeout bounds the etcd write of an ACL request.
const aclWriteTimeout = 10 * time.Second

func handleCreateAcls(b *Broker, rc *reqCtx, kreq kmsg.Request) kmsg.Response {
	req := kreq.(*kmsg.CreateACLsRequest)
	resp := req.ResponseKind().(*kmsg.CreateACLsResponse)
	resp.Results = make([]kmsg.CreateACLsResponseResult, len(req.Creations))
	fail := func(code int16, msg string) kmsg.Response {
		for i := range resp.Results {
			resp.Results[i] = kmsg.NewCreateACLsResponseResult()
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
	var valid []coordinator.ACL
	var validIdx []int
	for i, c := range req.Creations {
		r := kmsg.NewCreateACLsResponseResult()
		pt := c.ResourcePatternType
		acl := coordinator.ACL{ResourceType: int8(c.ResourceType), ResourceName: c.ResourceName, PatternType: int8(pt),
			Principal: c.Principal, Host: c.Host, Operation: int8(c.Operation), Permission: int8(c.PermissionType)}
		if why := invalidACL(acl); why != "" {
			r.ErrorCode, r.ErrorMessage = kerr.InvalidRequest.Code, strPtr(why)
		} else {
			valid = append(valid, acl)
			validIdx = append(validIdx, i)
		}
		resp.Results[i] = r
	}
	if len(valid) == 0 {
		return resp
	}
	ctx, cancel := context.WithTimeout(rc.ctx, aclWriteTimeout)
	defer cancel()
	rev, err := b.store.CreateACLs(ctx, valid)
	if err == nil {
		err = b.store.WaitForRevision(ctx, rev)
	}
	if err != nil {
		b.log.Error().Err(err).Int("acls", len(valid)).Msg("CreateAcls: etcd write failed")
		for _, i := range validIdx {
			resp.Results[i].ErrorCode, resp.Results[i].ErrorMessage = kerr.UnknownServerError.Code, strPtr("storing the ACLs failed: "+err.Error())
		}
		return resp
	}
	b.log.Info().Str("principal", rc.principal()).Int("acls", len(valid)).Msg("ACLs created")
	return resp
}

// invalidACL returns why a binding cannot be created, "" when it can.
func invalidACL(a coordinator.ACL) string {
	rt, pt := kmsg.ACLResourceType(a.ResourceType), kmsg.ACLResourcePatternType(a.PatternType)
	op, perm := kmsg.ACLOperation(a.Operation), kmsg.ACLPermissionType(a.Permission)
	switch {
	case rt < kmsg.ACLResourceTypeTopic || rt > kmsg.ACLResourceTypeUser:
		return "Invalid resourceType " + rt.String()
	case pt != kmsg.ACLResourcePatternTypeLiteral && pt != kmsg.ACLResourcePatternTypePrefixed:
		return "Invalid patternType " + pt.String()
	case op < kmsg.ACLOperationAll || op > 15:
		return "Invalid operation " + op.String()
	case perm != kmsg.ACLPermissionTypeAllow && perm != kmsg.ACLPermissionTypeDeny:
		return "Invalid permissionType " + perm.String()
	case a.ResourceName == "":
		return "Resource name should not be empty"
	case rt == kmsg.ACLResourceTypeCluster && a.ResourceName != clusterName:
		return "The only valid name for the CLUSTER resource is " + clusterName
	case a.Host == "":
		return "Invalid host: the host must not be empty (use * for any host)"
	}
	typ, name, ok := strings.Cut(a.Principal, ":")
	if !ok || typ == "" || name == "" {
		return "Could not parse principal from `" + a.Principal + "` (no colon is present separating the principal type from the principal name)"
	}
	return ""
}
