package broker

// DescribeAcls (key 29), v1-v3 (v0 was removed in Kafka 4, KIP-896, as Kafka 4.4 advertises).
//
//	v0: a filter without a pattern type (LITERAL).
//	v1: pattern types (KIP-290): ANY, MATCH, LITERAL, PREFIXED.
//	v2: flexible.
//	v3: same as v2 (user resource type).
//
// DESCRIBE on the cluster is required (CLUSTER_AUTHORIZATION_FAILED);
// without an authorizer the answer is SECURITY_DISABLED, as in Kafka.
// The bindings are grouped by resource.

import (
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/coordinator"
)

func init() { register(kmsg.DescribeACLs, 1, 3, handleDescribeAcls) }

// aclFilter is a DescribeAcls / DeleteAcls filter.
type aclFilter struct {
	rt        kmsg.ACLResourceType
	name      *string
	pattern   kmsg.ACLResourcePatternType
	principal *string
	host      *string
	op        kmsg.ACLOperation
	perm      kmsg.ACLPermissionType
}

// invalid returns the reason a filter cannot match anything sensible
// (INVALID_REQUEST), "" when it is valid.
func (f aclFilter) invalid() string {
	switch {
	case f.rt == kmsg.ACLResourceTypeUnknown || f.rt > kmsg.ACLResourceTypeUser:
		return "Invalid resource type in the ACL filter"
	case f.pattern == kmsg.ACLResourcePatternTypeUnknown || f.pattern > kmsg.ACLResourcePatternTypePrefixed:
		return "Invalid pattern type in the ACL filter"
	case f.op == kmsg.ACLOperationUnknown || f.op > 15:
		return "Invalid operation in the ACL filter"
	case f.perm == kmsg.ACLPermissionTypeUnknown || f.perm > kmsg.ACLPermissionTypeAllow:
		return "Invalid permission type in the ACL filter"
	}
	return ""
}

// matches reports whether the binding passes the filter (Kafka's
// AclBindingFilter.matches, MATCH included).
func (f aclFilter) matches(a coordinator.ACL) bool {
	if f.rt != kmsg.ACLResourceTypeAny && kmsg.ACLResourceType(a.ResourceType) != f.rt {
		return false
	}
	pt := kmsg.ACLResourcePatternType(a.PatternType)
	switch f.pattern {
	case kmsg.ACLResourcePatternTypeAny:
		if f.name != nil && *f.name != a.ResourceName {
			return false
		}
	case kmsg.ACLResourcePatternTypeMatch:
		if f.name != nil {
			switch pt {
			case kmsg.ACLResourcePatternTypeLiteral:
				if a.ResourceName != *f.name && a.ResourceName != "*" {
					return false
				}
			case kmsg.ACLResourcePatternTypePrefixed:
				if !strings.HasPrefix(*f.name, a.ResourceName) {
					return false
				}
			default:
				return false
			}
		}
	default:
		if pt != f.pattern || f.name != nil && *f.name != a.ResourceName {
			return false
		}
	}
	if f.principal != nil && *f.principal != a.Principal || f.host != nil && *f.host != a.Host {
		return false
	}
	if f.op != kmsg.ACLOperationAny && kmsg.ACLOperation(a.Operation) != f.op {
		return false
	}
	return f.perm == kmsg.ACLPermissionTypeAny || kmsg.ACLPermissionType(a.Permission) == f.perm
}

func handleDescribeAcls(b *Broker, rc *reqCtx, kreq kmsg.Request) kmsg.Response {
	req := kreq.(*kmsg.DescribeACLsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeACLsResponse)
	f := aclFilter{rt: req.ResourceType, name: req.ResourceName, pattern: req.ResourcePatternType,
		principal: req.Principal, host: req.Host, op: req.Operation, perm: req.PermissionType}
	switch {
	case b.authz == nil:
		resp.ErrorCode, resp.ErrorMessage = kerr.SecurityDisabled.Code, strPtr(noAuthorizerMessage)
		return resp
	case !b.authorizeCluster(rc, kmsg.ACLOperationDescribe):
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		return resp
	}
	if why := f.invalid(); why != "" {
		resp.ErrorCode, resp.ErrorMessage = kerr.InvalidRequest.Code, strPtr(why)
		return resp
	}
	type res struct {
		rt   int8
		name string
		pt   int8
	}
	idx := map[res]int{}
	for _, a := range b.store.Snapshot().ACLs {
		if !f.matches(a) {
			continue
		}
		k := res{a.ResourceType, a.ResourceName, a.PatternType}
		i, ok := idx[k]
		if !ok {
			r := kmsg.NewDescribeACLsResponseResource()
			r.ResourceType, r.ResourceName, r.ResourcePatternType = kmsg.ACLResourceType(a.ResourceType), a.ResourceName, kmsg.ACLResourcePatternType(a.PatternType)
			resp.Resources = append(resp.Resources, r)
			i = len(resp.Resources) - 1
			idx[k] = i
		}
		e := kmsg.NewDescribeACLsResponseResourceACL()
		e.Principal, e.Host, e.Operation, e.PermissionType = a.Principal, a.Host, kmsg.ACLOperation(a.Operation), kmsg.ACLPermissionType(a.Permission)
		resp.Resources[i].ACLs = append(resp.Resources[i].ACLs, e)
	}
	return resp
}
