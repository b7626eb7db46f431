import Foundation
import TumultModel

/// What a family's census may look at: the host's pods, the attacks not
/// yet recovered and their journal.
struct CensusContext: Sendable {
    var pods: [Pod]
    var attacks: [Journal.Attack]
    var journal: Journal
    /// Above this many named network namespaces, only those holding a fault are read.
    var scanLimit: Int
    var engineStatisticsDirectory: String?
}
