/// Every error VocabKit's library throws. Its description is one line that says what was wrong and where
/// (file, line, byte offset, key, tensor), in the library's own terms: messages never name command-line
/// options, so that a program using the library reads them as they are; the `vocabkit` command adds its hints.
public protocol VocabKitError: Error, CustomStringConvertible {}

extension FileError: VocabKitError {}
