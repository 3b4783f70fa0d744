package difftest

import (
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// ApiVersions and Metadata scenarios.

func metaScenarios() []Scenario {
	return []Scenario{
		{Name: "apiversions", API: kmsg.ApiVersions, Run: func(r *Run) {
			r.Check("", func(s *Side) kmsg.Request { return apiVersionsReq(r.V, "samsa-difftest", "1.0") })
		}},
		{Name: "apiversions-bad-software-name", API: kmsg.ApiVersions, MinV: 3, Run: func(r *Run) {
			r.Check("", func(s *Side) kmsg.Request { return apiVersionsReq(r.V, "bad name!", "1.0") })
		}},
		{Name: "apiversions-empty-software", API: kmsg.ApiVersions, MinV: 3, Run: func(r *Run) {
			r.Check("", func(s *Side) kmsg.Request { return apiVersionsReq(r.V, "", "") })
		}},
		// v5 (KIP-1242): the cluster and node id the client means to
		// reach, both or neither; a mismatch asks it to bootstrap again.
		{Name: "apiversions-cluster-node", API: kmsg.ApiVersions, MinV: 5, Run: func(r *Run) {
			mds := r.Do(func(s *Side) kmsg.Request { return metadataReq(r.Max(kmsg.Metadata)) })
			var cluster [2]string
			var node [2]int32
			for i, resp := range mds {
				md, _ := resp.(*kmsg.MetadataResponse)
				if md == nil || md.ClusterID == nil || len(md.Brokers) == 0 {
					r.Fatalf("no cluster id from %s", r.Sides[i].Name)
					return
				}
				cluster[i], node[i] = *md.ClusterID, md.Brokers[0].NodeID
			}
			with := func(step string, c func(s *Side) *string, n func(s *Side) int32) {
				r.Check(step, func(s *Side) kmsg.Request {
					req := apiVersionsReq(r.V, "samsa-difftest", "1.0")
					req.ClusterID, req.NodeID = c(s), n(s)
					return req
				})
			}
			own := func(s *Side) *string { return &cluster[s.I] }
			self := func(s *Side) int32 { return node[s.I] }
			other := func(*Side) *string { return kmsg.StringPtr("not-this-cluster") }
			none := func(*Side) *string { return nil }
			with("this-node", own, self)
			with("cluster-without-node", own, func(*Side) int32 { return -1 })
			with("node-without-cluster", none, self)
			with("another-cluster", other, self)
			with("another-node", own, func(s *Side) int32 { return node[s.I] + 100 })
		}},
		// A version newer than both brokers serve: the answer is the v0
		// layout with UNSUPPORTED_VERSION and the broker's table.
		{Name: "apiversions-newer-than-both", API: kmsg.ApiVersions, Once: true, Run: func(r *Run) {
			for _, v := range []int16{kmsg.NewPtrApiVersionsRequest().MaxVersion() + 1, 127} {
				body := apiVersionsReq(kmsg.NewPtrApiVersionsRequest().MaxVersion(), "samsa-difftest", "1.0").AppendTo(nil)
				r.CheckRaw("v"+strconv.Itoa(int(v)), kmsg.ApiVersions, v, true, 0, func(*Side) []byte { return body })
			}
		}},

		{Name: "metadata-all", API: kmsg.Metadata,
			Setup: func(r *Run) {
				r.CreateTopic("dt.metadata-all.a", 2, nil)
				r.CreateTopic("dt.metadata-all.b", 1, nil)
			},
			Run: func(r *Run) {
				r.CheckFiltered("", func(s *Side) kmsg.Request {
					req := metadataReq(r.V)
					if r.V == 0 {
						req.Topics = []kmsg.MetadataRequestTopic{} // v0: empty means all
					}
					return req
				}, keepTopics("dt.metadata-all.", "__"))
			}},
		{Name: "metadata-no-topics", API: kmsg.Metadata, MinV: 1, Run: func(r *Run) {
			r.Check("", func(s *Side) kmsg.Request {
				req := metadataReq(r.V)
				req.Topics = []kmsg.MetadataRequestTopic{}
				return req
			})
		}},
		{Name: "metadata-named", API: kmsg.Metadata,
			Setup: func(r *Run) {
				r.CreateTopic("dt.metadata-named.a", 3, nil)
				r.CreateTopic("dt.metadata-named.b", 1, nil)
			},
			Run: func(r *Run) {
				r.Check("", func(s *Side) kmsg.Request {
					return metadataReq(r.V, "dt.metadata-named.a", "dt.metadata-named.b", "dt.metadata-named.a")
				})
			}},
		{Name: "metadata-internal-topic", API: kmsg.Metadata, Run: func(r *Run) {
			r.Check("", func(s *Side) kmsg.Request { return metadataReq(r.V, "__consumer_offsets") })
		}},
		{Name: "metadata-unknown-noauto", API: kmsg.Metadata, MinV: 4, Run: func(r *Run) {
			r.Check("", func(s *Side) kmsg.Request {
				req := metadataReq(r.V, r.name("missing"))
				req.AllowAutoTopicCreation = false
				return req
			})
		}},
		// Auto-creation: the first answer may race the creation, the
		// second (after both list a leader) must agree.
		{Name: "metadata-unknown-auto", API: kmsg.Metadata, Run: func(r *Run) {
			topic := r.name("auto")
			r.Check("first", func(s *Side) kmsg.Request {
				req := metadataReq(r.V, topic)
				req.AllowAutoTopicCreation = true
				return req
			})
			r.WaitTopic(topic, 1)
			r.Check("after", func(s *Side) kmsg.Request { return metadataReq(r.V, topic) })
		}},
		{Name: "metadata-invalid-names", API: kmsg.Metadata, Run: func(r *Run) {
			for _, auto := range []bool{false, true} {
				if !auto && r.V < 4 {
					continue
				}
				step := "noauto"
				if auto {
					step = "auto"
				}
				r.Check(step, func(s *Side) kmsg.Request {
					req := metadataReq(r.V, "bad name", "a/b", ".", "..", strings.Repeat("x", 250), "ünï")
					req.AllowAutoTopicCreation = auto
					return req
				})
			}
		}},
		{Name: "metadata-empty-name", API: kmsg.Metadata, Run: func(r *Run) {
			r.Check("", func(s *Side) kmsg.Request {
				req := metadataReq(r.V, "")
				req.AllowAutoTopicCreation = false
				return req
			})
		}},
		{Name: "metadata-by-topic-id", API: kmsg.Metadata, MinV: 10,
			Setup: func(r *Run) { r.CreateTopic("dt.metadata-by-topic-id.a", 1, nil) },
			Run: func(r *Run) {
				r.Check("known", func(s *Side) kmsg.Request {
					return metadataByID(r.V, s.TopicID("dt.metadata-by-topic-id.a"))
				})
				r.Check("unknown", func(s *Side) kmsg.Request {
					return metadataByID(r.V, [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
				})
				r.Check("zero-id-no-name", func(s *Side) kmsg.Request { return metadataByID(r.V, [16]byte{}) })
			}},
		{Name: "metadata-authorized-operations", API: kmsg.Metadata, MinV: 8,
			Setup: func(r *Run) { r.CreateTopic("dt.metadata-authorized-operations.a", 1, nil) },
			Run: func(r *Run) {
				r.Check("", func(s *Side) kmsg.Request {
					req := metadataReq(r.V, "dt.metadata-authorized-operations.a")
					req.IncludeTopicAuthorizedOperations = true
					req.IncludeClusterAuthorizedOperations = r.V <= 10
					return req
				})
			}},
	}
}

func apiVersionsReq(v int16, name, version string) *kmsg.ApiVersionsRequest {
	req := kmsg.NewPtrApiVersionsRequest()
	req.Version = v
	req.ClientSoftwareName = name
	req.ClientSoftwareVersion = version
	return req
}

// metadataReq asks for topics (all of them if none are given, for v1+).
func metadataReq(v int16, topics ...string) *kmsg.MetadataRequest {
	req := kmsg.NewPtrMetadataRequest()
	req.Version = v
	req.AllowAutoTopicCreation = false
	for _, t := range topics {
		mt := kmsg.NewMetadataRequestTopic()
		mt.Topic = kmsg.StringPtr(t)
		req.Topics = append(req.Topics, mt)
	}
	return req
}

func metadataByID(v int16, id [16]byte) *kmsg.MetadataRequest {
	req := kmsg.NewPtrMetadataRequest()
	req.Version = v
	mt := kmsg.NewMetadataRequestTopic()
	mt.TopicID = id
	req.Topics = append(req.Topics, mt)
	return req
}

// keepTopics drops from a Metadata response the topics whose names start
// with none of prefixes (other scenarios' topics).
func keepTopics(prefixes ...string) func(kmsg.Response) {
	return func(resp kmsg.Response) {
		md, ok := resp.(*kmsg.MetadataResponse)
		if !ok {
			return
		}
		var kept []kmsg.MetadataResponseTopic
		for _, t := range md.Topics {
			name := ""
			if t.Topic != nil {
				name = *t.Topic
			}
			for _, p := range prefixes {
				if strings.HasPrefix(name, p) {
					kept = append(kept, t)
					break
				}
			}
		}
		md.Topics = kept
	}
}
