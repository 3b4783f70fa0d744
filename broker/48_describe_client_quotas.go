package broker

// DescribeClientQuotas (key 48), v0-v1 (KIP-546).
//
//	v0: components (entity type, match EXACT / DEFAULT / ANY), strict.
//	v1: flexible.
//
// DESCRIBE_CONFIGS on the cluster is required
// (CLUSTER_AUTHORIZATION_FAILED). Entity types are user and client-id;
// samsa stores no ip quotas, so a filter on ip matches nothing.

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/coordinator"
)

func init() { register(kmsg.DescribeClientQuotas, 0, 1, handleDescribeClientQuotas) }

func handleDescribeClientQuotas(b *Broker, rc *reqCtx, kreq kmsg.Request) kmsg.Response {
	req := kreq.(*kmsg.DescribeClientQuotasRequest)
	resp := req.ResponseKind().(*kmsg.DescribeClientQuotasResponse)
	if !b.authorizeCluster(rc, kmsg.ACLOperationDescribeConfigs) {
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		return resp
	}
	// Entries is nullable on the wire, and null only with an error: the
	// Java admin client fails on a null list.
	resp.Entries = []kmsg.DescribeClientQuotasResponseEntry{}
	seen := map[string]bool{}
	for _, c := range req.Components {
		switch {
		case seen[c.EntityType]:
			resp.Entries = nil
			resp.ErrorCode, resp.ErrorMessage = kerr.InvalidRequest.Code, strPtr("Duplicate entity type "+c.EntityType+" in the filter")
			return resp
		case c.MatchType > 2:
			resp.Entries = nil
			resp.ErrorCode, resp.ErrorMessage = kerr.InvalidRequest.Code, strPtr("Invalid match type")
			return resp
		case c.MatchType == 0 && c.Match == nil:
			resp.Entries = nil
			resp.ErrorCode, resp.ErrorMessage = kerr.InvalidRequest.Code, strPtr("An exact match needs a name")
			return resp
		}
		seen[c.EntityType] = true
	}
	snap := b.store.Snapshot()
	keys := make([]coordinator.QuotaEntity, 0, len(snap.Quotas))
	for e := range snap.Quotas {
		keys = append(keys, e)
	}
	slices.SortFunc(keys, func(x, y coordinator.QuotaEntity) int {
		if x.String() < y.String() {
			return -1
		}
		return 1
	})
	for _, e := range keys {
		if !quotaFilterMatches(req, e) {
			continue
		}
		entry := kmsg.NewDescribeClientQuotasResponseEntry()
		for _, p := range quotaEntityParts(e) {
			ee := kmsg.NewDescribeClientQuotasResponseEntryEntity()
			ee.Type, ee.Name = p.typ, p.name
			entry.Entity = append(entry.Entity, ee)
		}
		vals := snap.Quotas[e]
		for _, k := range slices.Sorted(func(yield func(string) bool) {
			for k := range vals {
				if !yield(k) {
					return
				}
			}
		}) {
			v := kmsg.NewDescribeClientQuotasResponseEntryValue()
			v.Key, v.Value = k, vals[k]
			entry.Values = append(entry.Values, v)
		}
		resp.Entries = append(resp.Entries, entry)
	}
	return resp
}

type quotaPart struct {
	typ  string
	name *string // nil: default
}

func quotaEntityParts(e coordinator.QuotaEntity) []quotaPart {
	var out []quotaPart
	if e.HasUser {
		p := quotaPart{typ: "user"}
		if !e.DefaultUser {
			p.name = strPtr(e.User)
		}
		out = append(out, p)
	}
	if e.HasClientID {
		p := quotaPart{typ: "client-id"}
		if !e.DefaultClientID {
			p.name = strPtr(e.ClientID)
		}
		out = append(out, p)
	}
	return out
}

// quotaFilterMatches is Kafka's filter: every component names a type the
// entity has (EXACT: with that name, DEFAULT: the default, ANY: any), and
// with strict the entity has no other type.
func quotaFilterMatches(req *kmsg.DescribeClientQuotasRequest, e coordinator.QuotaEntity) bool {
	parts := quotaEntityParts(e)
	for _, c := range req.Components {
		i := slices.IndexFunc(parts, func(p quotaPart) bool { return p.typ == c.EntityType })
		if i < 0 {
			return false
		}
		p := parts[i]
		switch c.MatchType {
		case 0:
			if p.name == nil || *p.name != *c.Match {
				return false
			}
		case 1:
			if p.name != nil {
				return false
			}
		}
	}
	return !req.Strict || len(parts) == len(req.Components)
}
