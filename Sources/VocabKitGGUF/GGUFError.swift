import VocabKitIO
/// Everything that can be wrong with a GGUF file's contents or with what is given to write (file-system
/// problems are VocabKitIO's `FileError`).
///
/// Each case carries where the problem is (key or tensor name, byte offset) so that one line is enough to
/// find it in a hex dump; `description` is that line.
public enum GGUFError: VocabKitError, Equatable, Sendable {
    case notGGUF(foundMagic: [UInt8])
    case unsupportedVersion(UInt32)
    /// The file ends before `what` (needing `needed` bytes at `offset`) is complete.
    case truncated(what: String, offset: Int, needed: UInt64, available: Int)
    /// A count that cannot fit in the bytes left, so it is rejected before anything is allocated.
    case countTooLarge(what: String, count: UInt64, offset: Int)
    case unknownValueType(what: String, typeID: UInt32, offset: Int)
    case nestingTooDeep(key: String, offset: Int)
    case duplicateKey(String, offset: Int)
    case invalidMetadata(key: String, reason: String, offset: Int)
    case invalidUTF8(what: String, offset: Int)
    case tooManyDimensions(tensor: String, count: UInt32, offset: Int)
    case invalidDimension(tensor: String, index: Int, value: Int64, offset: Int)
    case unknownTensorType(tensor: String, typeID: UInt32, offset: Int)
    case rowNotWholeBlocks(tensor: String, rowElements: Int, type: String, blockElements: Int)
    case tensorSizeOverflow(tensor: String, offset: Int)
    case duplicateTensor(String, offset: Int)
    case misalignedTensor(tensor: String, dataOffset: UInt64, alignment: Int)
    case tensorPastEnd(tensor: String, start: UInt64, end: UInt64, fileSize: Int)
    case overlappingTensors(first: String, second: String, at: UInt64)
    case invalidWriterInput(String)

    public var description: String {
        switch self {
        case let .notGGUF(magic):
            let shown = magic.map { byte -> String in
                (0x20..<0x7f).contains(byte) ? String(UnicodeScalar(byte)) : "\\x" + hex(byte)
            }.joined()
            return "not a GGUF file: magic at byte 0 is \"\(shown)\", expected \"GGUF\""
        case let .unsupportedVersion(version):
            let hint = version > 0xffff && version.byteSwapped <= 3 ? " (a big-endian GGUF?)" : ""
            return "unsupported GGUF version \(version) at byte 4\(hint); only versions 2 and 3 are read"
        case let .truncated(what, offset, needed, available):
            return "truncated GGUF: \(what) at byte \(offset) needs \(needed) bytes but only \(available) remain"
        case let .countTooLarge(what, count, offset):
            return "implausible \(what) \(count) at byte \(offset): more than the remaining bytes can hold"
        case let .unknownValueType(what, typeID, offset):
            return "unknown metadata value type \(typeID) for \(what) at byte \(offset)"
        case let .nestingTooDeep(key, offset):
            return "metadata key '\(key)': arrays nested too deeply at byte \(offset)"
        case let .duplicateKey(key, offset):
            return "duplicate metadata key '\(key)' at byte \(offset)"
        case let .invalidMetadata(key, reason, offset):
            return "metadata key '\(key)' at byte \(offset): \(reason)"
        case let .invalidUTF8(what, offset):
            return "\(what) at byte \(offset) is not valid UTF-8"
        case let .tooManyDimensions(tensor, count, offset):
            return "tensor '\(tensor)' at byte \(offset) has \(count) dimensions; at most 4 are allowed"
        case let .invalidDimension(tensor, index, value, offset):
            return "tensor '\(tensor)' at byte \(offset): dimension \(index) is \(value), must be non-negative"
        case let .unknownTensorType(tensor, typeID, offset):
            return "tensor '\(tensor)' at byte \(offset) has unknown ggml type \(typeID)"
        case let .rowNotWholeBlocks(tensor, rowElements, type, blockElements):
            return "tensor '\(tensor)': row of \(rowElements) elements is not a whole number of \(type) blocks of \(blockElements)"
        case let .tensorSizeOverflow(tensor, offset):
            return "tensor '\(tensor)' at byte \(offset): element count or byte size overflows"
        case let .duplicateTensor(name, offset):
            return "duplicate tensor name '\(name)' at byte \(offset)"
        case let .misalignedTensor(tensor, dataOffset, alignment):
            return "tensor '\(tensor)': data offset \(dataOffset) is not a multiple of the alignment \(alignment)"
        case let .tensorPastEnd(tensor, start, end, fileSize):
            return "tensor '\(tensor)': data bytes \(start)..<\(end) run past the end of the file (\(fileSize) bytes)"
        case let .overlappingTensors(first, second, at):
            return "tensors '\(first)' and '\(second)' overlap at file byte \(at)"
        case let .invalidWriterInput(reason):
            return "invalid GGUF to write: \(reason)"
        }
    }
}

private func hex(_ byte: UInt8) -> String {
    let digits = Array("0123456789abcdef")
    return String([digits[Int(byte >> 4)], digits[Int(byte & 0xf)]])
}
