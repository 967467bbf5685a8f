/// A ggml tensor element type, with the ids ggml writes into GGUF files.
///
/// Quantized types store a row as whole blocks, so a row of any type can be located and copied as raw
/// bytes once the block geometry is known; nothing here ever needs to dequantize.
public enum GGMLType: UInt32, CaseIterable, Sendable {
    case f32 = 0
    case f16 = 1
    case q4_0 = 2
    case q4_1 = 3
    // 4 and 5 were Q4_2 and Q4_3, removed from ggml.
    case q5_0 = 6
    case q5_1 = 7
    case q8_0 = 8
    case q8_1 = 9
    case q2_K = 10
    case q3_K = 11
    case q4_K = 12
    case q5_K = 13
    case q6_K = 14
    case q8_K = 15
    case iq2_XXS = 16
    case iq2_XS = 17
    case iq3_XXS = 18
    case iq1_S = 19
    case iq4_NL = 20
    case iq3_S = 21
    case iq2_S = 22
    case iq4_XS = 23
    case i8 = 24
    case i16 = 25
    case i32 = 26
    case i64 = 27
    case f64 = 28
    case iq1_M = 29
    case bf16 = 30
    // 31-33 were the repacked Q4_0_4_4/4_8/8_8 layouts, no longer allowed in files.
    case tq1_0 = 34
    case tq2_0 = 35
    // 36-38 were the repacked IQ4_NL layouts, no longer allowed in files.
    case mxfp4 = 39
    case nvfp4 = 40
    case q1_0 = 41
    case q2_0 = 42

    /// The type's description: everything else (`blockElements`, `blockBytes`, `name`, row sizes) reads it.
    /// The one switch over the types, so that adding a type is one line the compiler asks for.
    public var layout: GGMLTypeLayout {
        switch self {
        case .f32: GGMLTypeLayout(name: "F32", blockElements: 1, blockBytes: 4)
        case .f16: GGMLTypeLayout(name: "F16", blockElements: 1, blockBytes: 2)
        case .q4_0: GGMLTypeLayout(name: "Q4_0", blockElements: 32, blockBytes: 18)
        case .q4_1: GGMLTypeLayout(name: "Q4_1", blockElements: 32, blockBytes: 20)
        case .q5_0: GGMLTypeLayout(name: "Q5_0", blockElements: 32, blockBytes: 22)
        case .q5_1: GGMLTypeLayout(name: "Q5_1", blockElements: 32, blockBytes: 24)
        case .q8_0: GGMLTypeLayout(name: "Q8_0", blockElements: 32, blockBytes: 34)
        case .q8_1: GGMLTypeLayout(name: "Q8_1", blockElements: 32, blockBytes: 36)
        case .q2_K: GGMLTypeLayout(name: "Q2_K", blockElements: 256, blockBytes: 84)
        case .q3_K: GGMLTypeLayout(name: "Q3_K", blockElements: 256, blockBytes: 110)
        case .q4_K: GGMLTypeLayout(name: "Q4_K", blockElements: 256, blockBytes: 144)
        case .q5_K: GGMLTypeLayout(name: "Q5_K", blockElements: 256, blockBytes: 176)
        case .q6_K: GGMLTypeLayout(name: "Q6_K", blockElements: 256, blockBytes: 210)
        case .q8_K: GGMLTypeLayout(name: "Q8_K", blockElements: 256, blockBytes: 292)
        case .iq2_XXS: GGMLTypeLayout(name: "IQ2_XXS", blockElements: 256, blockBytes: 66)
        case .iq2_XS: GGMLTypeLayout(name: "IQ2_XS", blockElements: 256, blockBytes: 74)
        case .iq3_XXS: GGMLTypeLayout(name: "IQ3_XXS", blockElements: 256, blockBytes: 98)
        case .iq1_S: GGMLTypeLayout(name: "IQ1_S", blockElements: 256, blockBytes: 50)
        case .iq4_NL: GGMLTypeLayout(name: "IQ4_NL", blockElements: 32, blockBytes: 18)
        case .iq3_S: GGMLTypeLayout(name: "IQ3_S", blockElements: 256, blockBytes: 110)
        case .iq2_S: GGMLTypeLayout(name: "IQ2_S", blockElements: 256, blockBytes: 82)
        case .iq4_XS: GGMLTypeLayout(name: "IQ4_XS", blockElements: 256, blockBytes: 136)
        case .i8: GGMLTypeLayout(name: "I8", blockElements: 1, blockBytes: 1)
        case .i16: GGMLTypeLayout(name: "I16", blockElements: 1, blockBytes: 2)
        case .i32: GGMLTypeLayout(name: "I32", blockElements: 1, blockBytes: 4)
        case .i64: GGMLTypeLayout(name: "I64", blockElements: 1, blockBytes: 8)
        case .f64: GGMLTypeLayout(name: "F64", blockElements: 1, blockBytes: 8)
        case .iq1_M: GGMLTypeLayout(name: "IQ1_M", blockElements: 256, blockBytes: 56)
        case .bf16: GGMLTypeLayout(name: "BF16", blockElements: 1, blockBytes: 2)
        case .tq1_0: GGMLTypeLayout(name: "TQ1_0", blockElements: 256, blockBytes: 54)
        case .tq2_0: GGMLTypeLayout(name: "TQ2_0", blockElements: 256, blockBytes: 66)
        case .mxfp4: GGMLTypeLayout(name: "MXFP4", blockElements: 32, blockBytes: 17)
        case .nvfp4: GGMLTypeLayout(name: "NVFP4", blockElements: 64, blockBytes: 36)
        case .q1_0: GGMLTypeLayout(name: "Q1_0", blockElements: 128, blockBytes: 18)
        case .q2_0: GGMLTypeLayout(name: "Q2_0", blockElements: 64, blockBytes: 18)
        }
    }

    /// Elements stored in one block; a row must hold a whole number of blocks.
    public var blockElements: Int { layout.blockElements }

    /// Bytes one block occupies (sizes of ggml's block structs, scales included).
    public var blockBytes: Int { layout.blockBytes }

    /// The name ggml and llama.cpp print for this type.
    public var name: String { layout.name }

    /// Looks a type up by its printed name (case-insensitive), for command-line options.
    public init?(name: String) {
        let wanted = name.uppercased()
        guard let match = GGMLType.allCases.first(where: { $0.name == wanted }) else { return nil }
        self = match
    }

    /// Bytes of one row of `elements` values, or nil when the row is not whole blocks or overflows.
    public func rowByteCount(elements: Int) -> Int? {
        guard elements >= 0, elements % blockElements == 0 else { return nil }
        let (bytes, overflow) = (elements / blockElements).multipliedReportingOverflow(by: blockBytes)
        return overflow ? nil : bytes
    }
}

/// How ggml stores one element type: the name it prints and the geometry of a block (quantized types store
/// a row as whole blocks, scales included), from ggml's `type_traits`.
public struct GGMLTypeLayout: Sendable, Equatable {
    public let name: String
    /// Elements stored in one block; a row must hold a whole number of blocks.
    public let blockElements: Int
    /// Bytes one block occupies.
    public let blockBytes: Int
}
