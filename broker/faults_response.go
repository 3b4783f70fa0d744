package broker

// The error answer of a fault rule, for any API: a response shaped after
// the request (every topic, partition, group or key the request lists gets
// an entry, with the identifying fields copied), with the error code in
// every ErrorCode. Built by walking kmsg's generated structs, whose
// request and response lists share their names (Topics, Partitions,
// Groups, ...), so that no API needs code of its own here.

import (
	"reflect"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// faultResponse answers req with code everywhere an error code goes: in
// every entry and at the top level, as clients look for an error at the
// level they expect it for that API and error. The exception is Fetch,
// whose top-level error code is about the fetch session: it is set only
// when the request lists no partitions.
func faultResponse(req kmsg.Request, code int16, msg string) kmsg.Response {
	resp := req.ResponseKind()
	resp.SetVersion(req.GetVersion())
	dst := reflect.ValueOf(resp).Elem()
	nested := mirrorErrors(reflect.ValueOf(req).Elem(), dst, code, msg)
	if _, fetch := resp.(*kmsg.FetchResponse); !fetch || !nested {
		setErrorFields(dst, code, msg)
	}
	return resp
}

// responseListSources names, for a response list, the request fields it
// answers, tried in order (the first non-empty one is used): request and
// response lists mostly share a name, except these.
var responseListSources = map[string][]string{
	"Topics":       {"Topics", "TopicNames"}, // DeleteTopics v0-v5 lists names
	"Coordinators": {"CoordinatorKeys"},      // FindCoordinator v4+
}

// keyFields are the fields that name an entry answering a string of a
// request's list of names, in the order they are tried; an int32 of a list
// of partitions goes to Partition.
var keyFields = []string{"Topic", "Group", "Key", "Name", "TransactionalID"}

// copied are the fields that identify an entry, copied from the request
// entry it answers when both have them. Only these: other fields a request
// and its response share by name mean different things (a Fetch request's
// HighWatermark is a follower's, not the answer's).
var copied = map[string]bool{
	"Topic": true, "TopicID": true, "Partition": true, "Group": true, "MemberID": true,
	"Key": true, "Name": true, "TransactionalID": true, "ResourceType": true, "ResourceName": true,
}

// mirrorErrors fills dst (a response struct) from src (the request struct
// it answers): identifying fields copied, lists mirrored, the error code
// set in every entry. It reports whether dst got any entry.
func mirrorErrors(src, dst reflect.Value, code int16, msg string) bool {
	nested := false
	for i := 0; i < dst.NumField(); i++ {
		df := dst.Type().Field(i)
		dv := dst.Field(i)
		if !df.IsExported() {
			continue
		}
		if dv.Kind() == reflect.Slice && dv.Type().Elem().Kind() == reflect.Struct {
			sv, ok := listSource(src, df.Name)
			if !ok {
				continue
			}
			out := reflect.MakeSlice(dv.Type(), sv.Len(), sv.Len())
			for j := 0; j < sv.Len(); j++ {
				e, s := out.Index(j), sv.Index(j)
				defaultStruct(e)
				switch s.Kind() {
				case reflect.Struct:
					mirrorErrors(s, e, code, msg)
				case reflect.String:
					setKeyField(e, s.String())
				case reflect.Int32:
					if p := e.FieldByName("Partition"); p.IsValid() && p.Kind() == reflect.Int32 {
						p.SetInt(s.Int())
					}
				}
				setErrorFields(e, code, msg)
			}
			dv.Set(out)
			nested = nested || sv.Len() > 0
			continue
		}
		if !copied[df.Name] {
			continue
		}
		if sf := src.FieldByName(df.Name); sf.IsValid() && sf.Type() == dv.Type() {
			dv.Set(sf)
		}
	}
	return nested
}

// listSource is the non-empty request list that response list name
// answers.
func listSource(src reflect.Value, name string) (reflect.Value, bool) {
	names := responseListSources[name]
	if names == nil {
		names = []string{name}
	}
	for _, n := range names {
		sv := src.FieldByName(n)
		if !sv.IsValid() || sv.Kind() != reflect.Slice || sv.Len() == 0 {
			continue
		}
		switch sv.Type().Elem().Kind() {
		case reflect.Struct, reflect.String, reflect.Int32:
			return sv, true
		}
	}
	return reflect.Value{}, false
}

// setErrorFields sets the struct's ErrorCode (and ErrorMessage, if it has
// one), if it has one, and the offsets Kafka answers as -1 with an error
// (a Produce's base offset, a Fetch's high watermark).
func setErrorFields(v reflect.Value, code int16, msg string) {
	if f := v.FieldByName("ErrorCode"); f.IsValid() && f.Kind() == reflect.Int16 {
		f.SetInt(int64(code))
		for _, name := range []string{"BaseOffset", "HighWatermark"} {
			if o := v.FieldByName(name); o.IsValid() && o.Kind() == reflect.Int64 {
				o.SetInt(-1)
			}
		}
		if m := v.FieldByName("ErrorMessage"); m.IsValid() && m.Kind() == reflect.Pointer && m.Type().Elem().Kind() == reflect.String {
			s := msg
			m.Set(reflect.ValueOf(&s))
		}
	}
}

// setKeyField sets the first of keyFields the struct has to s.
func setKeyField(v reflect.Value, s string) {
	for _, name := range keyFields {
		f := v.FieldByName(name)
		if !f.IsValid() {
			continue
		}
		switch {
		case f.Kind() == reflect.String:
			f.SetString(s)
			return
		case f.Kind() == reflect.Pointer && f.Type().Elem().Kind() == reflect.String:
			c := s
			f.Set(reflect.ValueOf(&c))
			return
		}
	}
}

// defaultStruct applies kmsg's defaults (Default) to an addressable struct.
func defaultStruct(v reflect.Value) {
	if d, ok := v.Addr().Interface().(interface{ Default() }); ok {
		d.Default()
	}
}
