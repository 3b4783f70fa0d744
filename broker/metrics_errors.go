package broker

import "github.com/twmb/franz-go/pkg/kmsg"

// responseErrors counts the error codes of a response (Kafka's
// RequestMetrics ErrorsPerSec counts each code a response carries: one per
// partition of a Produce, per topic of a CreateTopics, ...). A type switch
// over the responses samsa serves: no allocation, no reflection.
func (m *metrics) responseErrors(key int16, resp kmsg.Response) {
	switch r := resp.(type) {
	case *kmsg.ProduceResponse:
		for i := range r.Topics {
			for j := range r.Topics[i].Partitions {
				m.countError(key, r.Topics[i].Partitions[j].ErrorCode)
			}
		}
	case *kmsg.FetchResponse:
		m.countError(key, r.ErrorCode)
		for i := range r.Topics {
			for j := range r.Topics[i].Partitions {
				m.countError(key, r.Topics[i].Partitions[j].ErrorCode)
			}
		}
	case *kmsg.ListOffsetsResponse:
		for i := range r.Topics {
			for j := range r.Topics[i].Partitions {
				m.countError(key, r.Topics[i].Partitions[j].ErrorCode)
			}
		}
	case *kmsg.MetadataResponse:
		for i := range r.Topics {
			m.countError(key, r.Topics[i].ErrorCode)
			for j := range r.Topics[i].Partitions {
				m.countError(key, r.Topics[i].Partitions[j].ErrorCode)
			}
		}
	case *kmsg.OffsetCommitResponse:
		for i := range r.Topics {
			for j := range r.Topics[i].Partitions {
				m.countError(key, r.Topics[i].Partitions[j].ErrorCode)
			}
		}
	case *kmsg.OffsetFetchResponse:
		m.countError(key, r.ErrorCode)
		for i := range r.Topics {
			for j := range r.Topics[i].Partitions {
				m.countError(key, r.Topics[i].Partitions[j].ErrorCode)
			}
		}
		for i := range r.Groups {
			m.countError(key, r.Groups[i].ErrorCode)
			for j := range r.Groups[i].Topics {
				for k := range r.Groups[i].Topics[j].Partitions {
					m.countError(key, r.Groups[i].Topics[j].Partitions[k].ErrorCode)
				}
			}
		}
	case *kmsg.FindCoordinatorResponse:
		m.countError(key, r.ErrorCode)
		for i := range r.Coordinators {
			m.countError(key, r.Coordinators[i].ErrorCode)
		}
	case *kmsg.JoinGroupResponse:
		m.countError(key, r.ErrorCode)
	case *kmsg.HeartbeatResponse:
		m.countError(key, r.ErrorCode)
	case *kmsg.LeaveGroupResponse:
		m.countError(key, r.ErrorCode)
		for i := range r.Members {
			m.countError(key, r.Members[i].ErrorCode)
		}
	case *kmsg.SyncGroupResponse:
		m.countError(key, r.ErrorCode)
	case *kmsg.DescribeGroupsResponse:
		for i := range r.Groups {
			m.countError(key, r.Groups[i].ErrorCode)
		}
	case *kmsg.ListGroupsResponse:
		m.countError(key, r.ErrorCode)
	case *kmsg.ApiVersionsResponse:
		m.countError(key, r.ErrorCode)
	case *kmsg.CreateTopicsResponse:
		for i := range r.Topics {
			m.countError(key, r.Topics[i].ErrorCode)
		}
	case *kmsg.DeleteTopicsResponse:
		for i := range r.Topics {
			m.countError(key, r.Topics[i].ErrorCode)
		}
	case *kmsg.InitProducerIDResponse:
		m.countError(key, r.ErrorCode)
	case *kmsg.OffsetForLeaderEpochResponse:
		for i := range r.Topics {
			for j := range r.Topics[i].Partitions {
				m.countError(key, r.Topics[i].Partitions[j].ErrorCode)
			}
		}
	case *kmsg.DescribeConfigsResponse:
		for i := range r.Resources {
			m.countError(key, r.Resources[i].ErrorCode)
		}
	case *kmsg.AlterConfigsResponse:
		for i := range r.Resources {
			m.countError(key, r.Resources[i].ErrorCode)
		}
	case *kmsg.IncrementalAlterConfigsResponse:
		for i := range r.Resources {
			m.countError(key, r.Resources[i].ErrorCode)
		}
	case *kmsg.CreatePartitionsResponse:
		for i := range r.Topics {
			m.countError(key, r.Topics[i].ErrorCode)
		}
	case *kmsg.DeleteGroupsResponse:
		for i := range r.Groups {
			m.countError(key, r.Groups[i].ErrorCode)
		}
	case *kmsg.OffsetDeleteResponse:
		m.countError(key, r.ErrorCode)
		for i := range r.Topics {
			for j := range r.Topics[i].Partitions {
				m.countError(key, r.Topics[i].Partitions[j].ErrorCode)
			}
		}
	case *kmsg.DescribeClusterResponse:
		m.countError(key, r.ErrorCode)
	case *kmsg.ConsumerGroupHeartbeatResponse:
		m.countError(key, r.ErrorCode)
	case *kmsg.ConsumerGroupDescribeResponse:
		for i := range r.Groups {
			m.countError(key, r.Groups[i].ErrorCode)
		}
	}
}
