import Foundation

/// Where the bundled Qwen3 vocabulary lives at run time. The file ships inside the package's resource
/// bundle, so nothing is downloaded.
public enum BundledVocabulary {
    public static var url: URL? { Bundle.module.url(forResource: "qwen3", withExtension: "vkv") }
}
