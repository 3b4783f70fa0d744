package broker

// AlterClientQuotas (key 49), v0-v1 (KIP-546).
//
//	v0: entities and ops (set or remove a key), validate only.
//	v1: flexible.
//
// ALTER_CONFIGS on the cluster is required (CLUSTER_AUTHORIZATION_FAILED
// for every entry). Entities name user and/or client-id (a null name is
// the default); the keys are producer_byte_rate and consumer_byte_rate
// (whole numbers), request_percentage and controller_mutation_rate, each
// above 0. ip entities (connection_creation_rate) are refused: samsa does
// not enforce connection rate quotas. The quotas are stored in etcd and the
// answer waits until this broker's snapshot has them.

import (
	"context"
	"fmt"
	"math"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/coordinator"
)

func init() { register(kmsg.AlterClientQuotas, 0, 1, handleAlterClientQuotas) }

func handleAlterClientQuotas(b *Broker, rc *reqCtx, kreq kmsg.Request) kmsg.Response {
	req := kreq.(*kmsg.AlterClientQuotasRequest)
	resp := req.ResponseKind().(*kmsg.AlterClientQuotasResponse)
	authorized := b.authorizeCluster(rc, kmsg.ACLOperationAlterConfigs)
	for _, en := range req.Entries {
		r := kmsg.NewAlterClientQuotasResponseEntry()
		for _, p := range en.Entity {
			ee := kmsg.NewAlterClientQuotasResponseEntryEntity()
			ee.Type, ee.Name = p.Type, p.Name
			r.Entity = append(r.Entity, ee)
		}
		code, msg := kerr.ClusterAuthorizationFailed.Code, ""
		if authorized {
			code, msg = b.alterQuotaEntry(rc, en, req.ValidateOnly)
		}
		r.ErrorCode = code
		if msg != "" {
			r.ErrorMessage = strPtr(msg)
		}
		resp.Entries = append(resp.Entries, r)
	}
	return resp
}

func (b *Broker) alterQuotaEntry(rc *reqCtx, en kmsg.AlterClientQuotasRequestEntry, validateOnly bool) (int16, string) {
	var e coordinator.QuotaEntity
	for _, p := range en.Entity {
		switch p.Type {
		case "user":
			if e.HasUser {
				return kerr.InvalidRequest.Code, "Duplicate user entity"
			}
			e.HasUser = true
			if p.Name == nil {
				e.DefaultUser = true
			} else {
				e.User = *p.Name
			}
		case "client-id":
			if e.HasClientID {
				return kerr.InvalidRequest.Code, "Duplicate client-id entity"
			}
			e.HasClientID = true
			if p.Name == nil {
				e.DefaultClientID = true
			} else {
				e.ClientID = *p.Name
			}
		case "ip":
			return kerr.InvalidRequest.Code, "samsa does not enforce ip (connection_creation_rate) quotas"
		default:
			return kerr.InvalidRequest.Code, "Unknown quota entity type " + p.Type
		}
	}
	if !e.HasUser && !e.HasClientID {
		return kerr.InvalidRequest.Code, "The quota entity is empty"
	}
	set := map[string]float64{}
	var remove []string
	for _, op := range en.Ops {
		switch op.Key {
		case quotaProducerByteRate, quotaConsumerByteRate:
			if !op.Remove && op.Value != math.Trunc(op.Value) {
				return kerr.InvalidRequest.Code, fmt.Sprintf("Invalid value %v for %s: a whole number is expected", op.Value, op.Key)
			}
		case quotaRequestPercentage, quotaControllerMutationRate:
		default:
			return kerr.InvalidRequest.Code, "Invalid configuration key " + op.Key
		}
		if op.Remove {
			remove = append(remove, op.Key)
			continue
		}
		if !(op.Value > 0) || math.IsInf(op.Value, 0) {
			return kerr.InvalidRequest.Code, fmt.Sprintf("Invalid value %v for %s: the quota must be positive", op.Value, op.Key)
		}
		set[op.Key] = op.Value
	}
	if validateOnly {
		return 0, ""
	}
	ctx, cancel := context.WithTimeout(rc.ctx, aclWriteTimeout)
	defer cancel()
	rev, err := b.store.AlterQuotas(ctx, e, set, remove)
	if err == nil && rev > 0 {
		err = b.store.WaitForRevision(ctx, rev)
	}
	if err != nil {
		b.log.Error().Err(err).Str("entity", e.String()).Msg("AlterClientQuotas: etcd write failed")
		return kerr.UnknownServerError.Code, "storing the quota failed: " + err.Error()
	}
	return 0, ""
}
