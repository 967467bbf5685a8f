/// The type tags GGUF writes before every metadata value (and before the elements of an array).
public enum GGUFValueType: UInt32, CaseIterable, Sendable {
    case uint8 = 0, int8 = 1, uint16 = 2, int16 = 3, uint32 = 4, int32 = 5, float32 = 6, bool = 7
    case string = 8, array = 9, uint64 = 10, int64 = 11, float64 = 12

    /// Encoded size of a value of this type, nil for strings and arrays whose size depends on content.
    public var fixedByteCount: Int? {
        switch self {
        case .uint8, .int8, .bool: return 1
        case .uint16, .int16: return 2
        case .uint32, .int32, .float32: return 4
        case .uint64, .int64, .float64: return 8
        case .string, .array: return nil
        }
    }

    /// The fewest bytes one value can take; lets counts be checked against the bytes left before allocating.
    var minimumByteCount: Int {
        switch self {
        case .string: return 8   // length
        case .array: return 12   // element type + count
        default: return fixedByteCount ?? 1
        }
    }

    public var name: String { String(describing: self) }
}

/// One decoded metadata value.
public enum GGUFValue: Equatable, Sendable {
    case uint8(UInt8), int8(Int8), uint16(UInt16), int16(Int16), uint32(UInt32), int32(Int32), float32(Float)
    case bool(Bool), string(String), array([GGUFValue]), uint64(UInt64), int64(Int64), float64(Double)

    public var type: GGUFValueType {
        switch self {
        case .uint8: return .uint8
        case .int8: return .int8
        case .uint16: return .uint16
        case .int16: return .int16
        case .uint32: return .uint32
        case .int32: return .int32
        case .float32: return .float32
        case .bool: return .bool
        case .string: return .string
        case .array: return .array
        case .uint64: return .uint64
        case .int64: return .int64
        case .float64: return .float64
        }
    }

    /// The value as an Int when it is any integer type and fits.
    public var integerValue: Int? {
        switch self {
        case let .uint8(v): return Int(v)
        case let .int8(v): return Int(v)
        case let .uint16(v): return Int(v)
        case let .int16(v): return Int(v)
        case let .uint32(v): return Int(v)
        case let .int32(v): return Int(v)
        case let .uint64(v): return Int(exactly: v)
        case let .int64(v): return Int(v)
        default: return nil
        }
    }

    /// The value as a Double when it is a float or an integer.
    public var doubleValue: Double? {
        switch self {
        case let .float32(v): return Double(v)
        case let .float64(v): return v
        default: return integerValue.map(Double.init)
        }
    }

    public var stringValue: String? {
        if case let .string(s) = self { return s }
        return nil
    }

    public var arrayValue: [GGUFValue]? {
        if case let .array(a) = self { return a }
        return nil
    }
}
