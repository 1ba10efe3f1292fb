package api_test

import (
	"encoding/binary"
	"fmt"
	"math"
)

// A Mapbox Vector Tile reader written from the specification (2.1, and
// vector_tile.proto) and the protobuf wire format alone, so the tests
// check the tiles against the specification rather than against the
// library that wrote them.

// mvtLayer is a decoded layer; version and extent are as written (0 when
// the field is missing).
type mvtLayer struct {
	name     string
	version  uint64
	extent   uint64
	features []mvtFeature
}

// mvtFeature is a decoded point feature: its id, its properties resolved
// through the layer's keys and values, and its points in tile units.
type mvtFeature struct {
	id     uint64
	hasID  bool
	geom   uint64 // 1 point, 2 line, 3 polygon
	props  map[string]any
	points [][2]int64
}

// protoField is one field of a protobuf message: a varint, a fixed-width
// number or a length-delimited payload.
type protoField struct {
	num     uint64
	varint  uint64
	payload []byte
}

func protoFields(b []byte) ([]protoField, error) {
	var out []protoField
	for len(b) > 0 {
		key, n := binary.Uvarint(b)
		if n <= 0 {
			return nil, fmt.Errorf("bad field key")
		}
		b = b[n:]
		f := protoField{num: key >> 3}
		switch key & 7 {
		case 0:
			f.varint, n = binary.Uvarint(b)
			if n <= 0 {
				return nil, fmt.Errorf("bad varint in field %d", f.num)
			}
			b = b[n:]
		case 1:
			if len(b) < 8 {
				return nil, fmt.Errorf("short fixed64")
			}
			f.varint, b = binary.LittleEndian.Uint64(b), b[8:]
		case 5:
			if len(b) < 4 {
				return nil, fmt.Errorf("short fixed32")
			}
			f.varint, b = uint64(binary.LittleEndian.Uint32(b)), b[4:]
		case 2:
			l, n := binary.Uvarint(b)
			if n <= 0 || uint64(len(b)-n) < l {
				return nil, fmt.Errorf("bad length in field %d", f.num)
			}
			f.payload, b = b[n:n+int(l)], b[n+int(l):]
		default:
			return nil, fmt.Errorf("wire type %d", key&7)
		}
		out = append(out, f)
	}
	return out, nil
}

func packedVarints(b []byte) ([]uint64, error) {
	var out []uint64
	for len(b) > 0 {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			return nil, fmt.Errorf("bad packed varint")
		}
		out, b = append(out, v), b[n:]
	}
	return out, nil
}

func unzigzag(v uint64) int64 { return int64(v>>1) ^ -int64(v&1) }

// decodeMVT reads a tile: Tile.layers is field 3; Layer has version 15,
// name 1, features 2, keys 3, values 4, extent 5; Feature has id 1, tags
// 2, type 3, geometry 4; Value has string 1, float 2, double 3, int 4,
// uint 5, sint 6, bool 7.
func decodeMVT(data []byte) ([]mvtLayer, error) {
	tile, err := protoFields(data)
	if err != nil {
		return nil, err
	}
	var layers []mvtLayer
	for _, tf := range tile {
		if tf.num != 3 {
			return nil, fmt.Errorf("unknown tile field %d", tf.num)
		}
		fields, err := protoFields(tf.payload)
		if err != nil {
			return nil, err
		}
		var l mvtLayer
		var keys []string
		var values []any
		var raw [][]byte
		for _, f := range fields {
			switch f.num {
			case 15:
				l.version = f.varint
			case 1:
				l.name = string(f.payload)
			case 5:
				l.extent = f.varint
			case 3:
				keys = append(keys, string(f.payload))
			case 4:
				v, err := decodeValue(f.payload)
				if err != nil {
					return nil, err
				}
				values = append(values, v)
			case 2:
				raw = append(raw, f.payload)
			}
		}
		for _, r := range raw {
			feat, err := decodeFeature(r, keys, values)
			if err != nil {
				return nil, fmt.Errorf("layer %s: %w", l.name, err)
			}
			l.features = append(l.features, feat)
		}
		layers = append(layers, l)
	}
	return layers, nil
}

func decodeValue(b []byte) (any, error) {
	fields, err := protoFields(b)
	if err != nil || len(fields) != 1 {
		return nil, fmt.Errorf("a value holds exactly one field (%v)", err)
	}
	f := fields[0]
	switch f.num {
	case 1:
		return string(f.payload), nil
	case 2:
		return float64(math.Float32frombits(uint32(f.varint))), nil
	case 3:
		return math.Float64frombits(f.varint), nil
	case 4:
		return int64(f.varint), nil
	case 5:
		return int64(f.varint), nil
	case 6:
		return unzigzag(f.varint), nil
	case 7:
		return f.varint != 0, nil
	}
	return nil, fmt.Errorf("unknown value field %d", f.num)
}

func decodeFeature(b []byte, keys []string, values []any) (mvtFeature, error) {
	fields, err := protoFields(b)
	if err != nil {
		return mvtFeature{}, err
	}
	feat := mvtFeature{props: map[string]any{}}
	for _, f := range fields {
		switch f.num {
		case 1:
			feat.id, feat.hasID = f.varint, true
		case 3:
			feat.geom = f.varint
		case 2:
			tags, err := packedVarints(f.payload)
			if err != nil || len(tags)%2 != 0 {
				return feat, fmt.Errorf("bad tags")
			}
			for i := 0; i < len(tags); i += 2 {
				if tags[i] >= uint64(len(keys)) || tags[i+1] >= uint64(len(values)) {
					return feat, fmt.Errorf("tag out of range")
				}
				feat.props[keys[tags[i]]] = values[tags[i+1]]
			}
		case 4:
			cmds, err := packedVarints(f.payload)
			if err != nil {
				return feat, err
			}
			// A point geometry is one MoveTo (command 1) with a count,
			// followed by zigzag deltas from the previous position (§4.3).
			var x, y int64
			for i := 0; i < len(cmds); {
				id, count := cmds[i]&7, int(cmds[i]>>3)
				i++
				if id != 1 || i+2*count > len(cmds) {
					return feat, fmt.Errorf("point geometry with command %d", id)
				}
				for range count {
					x += unzigzag(cmds[i])
					y += unzigzag(cmds[i+1])
					feat.points = append(feat.points, [2]int64{x, y})
					i += 2
				}
			}
		}
	}
	return feat, nil
}
