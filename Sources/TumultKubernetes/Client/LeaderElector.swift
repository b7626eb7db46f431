import Foundation
import Logging
import Synchronization

/// Leader election on a `coordination.k8s.io/v1` Lease, as client-go's
/// leaderelection package does it, so that of several operator replicas one
/// reconciles at a time.
///
/// Every `retryPeriod` a candidate reads the Lease and takes it when it is
/// free, its own, or expired (`renewTime + leaseDurationSeconds` has passed);
/// writes are conditional on the resourceVersion read, so two candidates
/// never both win. The leader runs its work in a child task and renews every
/// `retryPeriod`; if it cannot renew for `renewDeadline`, or finds another
/// holder, it cancels the work and competes again. Expiry is judged by the
/// Lease's own `renewTime`, so candidates' clocks must roughly agree
/// (`leaseDuration` should exceed the skew by a margin).
public final class LeaderElector: Sendable {
    public let namespace: String
    public let name: String
    public let identity: String
    public let leaseDuration: Duration
    public let renewDeadline: Duration
    public let retryPeriod: Duration
    /// Clear the holder when `run` is cancelled, so a successor need not wait
    /// out the lease (client-go's ReleaseOnCancel). Off simulates a crash.
    public let releaseOnCancel: Bool

    private let client: KubernetesClient
    private let logger: Logger
    private let leading = Mutex(false)

    public init(
        client: KubernetesClient, namespace: String, name: String, identity: String,
        leaseDuration: Duration = .seconds(15), renewDeadline: Duration = .seconds(10),
        retryPeriod: Duration = .seconds(2), releaseOnCancel: Bool = true, logger: Logger
    ) {
        self.client = client
        self.namespace = namespace
        self.name = name
        self.identity = identity
        self.leaseDuration = leaseDuration
        self.renewDeadline = renewDeadline
        self.retryPeriod = retryPeriod
        self.releaseOnCancel = releaseOnCancel
        var logger = logger
        logger[metadataKey: "lease.name"] = "\(namespace)/\(name)"
        logger[metadataKey: "lease.identity"] = "\(identity)"
        self.logger = logger
    }

    /// True while this candidate holds the lease and its work runs.
    public var isLeader: Bool { leading.withLock { $0 } }

    /// Competes for the lease and runs `whileLeading` each time it is won,
    /// until the task is cancelled (then returns, after releasing the lease
    /// unless `releaseOnCancel` is off). When `whileLeading` returns, the
    /// lease is released and `run` returns; when it throws, the same, and the
    /// error is rethrown. Losing the lease cancels it and competes again.
    public func run(_ whileLeading: @escaping @Sendable () async throws -> Void) async throws {
        while true {
            guard await acquire() else {
                return
            }
            leading.withLock { $0 = true }
            logger.info("Became leader")
            let outcome = await lead(whileLeading)
            leading.withLock { $0 = false }
            switch outcome {
            case .lost:
                logger.warning("Lost the lease, competing again")
            case .finished:
                await release()
                return
            case .failed(let error):
                await release()
                throw error
            case .cancelled:
                if releaseOnCancel { await release() }
                return
            }
        }
    }

    // MARK: Phases

    private enum Outcome: Sendable {
        case lost, finished, cancelled
        case failed(any Error)
    }

    /// Tries every `retryPeriod` until the lease is ours; false when cancelled first.
    private func acquire() async -> Bool {
        while !Task.isCancelled {
            do {
                if case .acquired = try await tryAcquireOrRenew() { return true }
            } catch {
                if Task.isCancelled { return false }
                logger.warning("Cannot read or write the lease", metadata: ["kubernetes.error": "\(error)"])
            }
            do {
                try await Task.sleep(for: retryPeriod)
            } catch {
                return false
            }
        }
        return false
    }

    private func lead(_ whileLeading: @escaping @Sendable () async throws -> Void) async -> Outcome {
        await withTaskGroup(of: Outcome?.self) { group in
            group.addTask {
                do {
                    try await whileLeading()
                    return .finished
                } catch {
                    return Task.isCancelled ? nil : .failed(error)
                }
            }
            group.addTask { await self.keepRenewing() }
            let first = await group.next() ?? nil
            if case .lost = first { leading.withLock { $0 = false } }
            group.cancelAll()
            for await _ in group {}
            if Task.isCancelled { return .cancelled }
            return first ?? .cancelled
        }
    }

    /// Renews every `retryPeriod`; returns `.lost` when another holder shows
    /// up or no renewal succeeded for `renewDeadline`, nil when cancelled.
    private func keepRenewing() async -> Outcome? {
        var lastRenewal = ContinuousClock.now
        while true {
            do {
                try await Task.sleep(for: retryPeriod)
            } catch {
                return nil
            }
            let deadline = lastRenewal + renewDeadline
            let attempt = await withTaskGroup(of: Attempt?.self) { group in
                group.addTask {
                    do {
                        return .result(try await self.tryAcquireOrRenew())
                    } catch {
                        return .failed(error)
                    }
                }
                group.addTask {
                    try? await Task.sleep(until: deadline, clock: .continuous)
                    return nil
                }
                let first = await group.next() ?? nil
                group.cancelAll()
                return first
            }
            if Task.isCancelled { return nil }
            switch attempt {
            case .result(.acquired):
                lastRenewal = .now
            case .result(.heldBy(let holder)):
                logger.warning("Another candidate holds the lease", metadata: ["lease.holder": "\(holder)"])
                return .lost
            case .result(.conflict):
                break
            case .failed(let error):
                logger.warning("Cannot renew the lease", metadata: ["kubernetes.error": "\(error)"])
            case nil:
                logger.warning("Renewing the lease took too long")
            }
            if lastRenewal.duration(to: .now) >= renewDeadline { return .lost }
        }
    }

    private enum Attempt: Sendable {
        case result(LeaseState)
        case failed(any Error)
    }

    enum LeaseState: Sendable, Equatable {
        case acquired
        case heldBy(String)
        /// Someone wrote the lease between our read and write: read again.
        case conflict
    }

    // MARK: The lease record

    private var leaseDurationSeconds: Int {
        let components = leaseDuration.components
        return max(1, Int(components.seconds) + (components.attoseconds > 0 ? 1 : 0))
    }

    /// One read and at most one conditional write of the lease.
    func tryAcquireOrRenew() async throws -> LeaseState {
        let now = Date()
        let stamp = MicroTime.format(now)
        let current: LeaseObject
        do {
            current = try await client.get(ResourceType.leases, namespace: namespace, name: name, as: LeaseObject.self)
        } catch let error as KubernetesError where error.isNotFound {
            let lease = LeaseObject(
                metadata: ObjectMeta(name: name, namespace: namespace),
                spec: .init(
                    holderIdentity: identity, leaseDurationSeconds: leaseDurationSeconds, acquireTime: stamp,
                    renewTime: stamp, leaseTransitions: 0))
            do {
                _ = try await client.create(ResourceType.leases, namespace: namespace, lease)
                return .acquired
            } catch let error as KubernetesError where error.isAlreadyExists {
                return .conflict
            }
        }
        let holder = current.spec.holderIdentity ?? ""
        if !holder.isEmpty, holder != identity {
            let renewed = (current.spec.renewTime ?? current.spec.acquireTime).flatMap(MicroTime.parse) ?? .distantPast
            let duration = TimeInterval(current.spec.leaseDurationSeconds ?? leaseDurationSeconds)
            if renewed.addingTimeInterval(duration) > now { return .heldBy(holder) }
        }
        var lease = current
        if holder != identity {
            lease.spec.holderIdentity = identity
            lease.spec.acquireTime = stamp
            lease.spec.leaseTransitions = (current.spec.leaseTransitions ?? 0) + 1
            logger.info("Taking the lease", metadata: ["lease.previousHolder": "\(holder)"])
        }
        lease.spec.renewTime = stamp
        lease.spec.leaseDurationSeconds = leaseDurationSeconds
        do {
            _ = try await client.update(ResourceType.leases, lease)
            return .acquired
        } catch let error as KubernetesError where error.isConflict || error.isNotFound {
            return .conflict
        }
    }

    /// Clears the holder (and shortens the lease to one second, as client-go
    /// does) if we still hold it. Runs in a task of its own so that it still
    /// gets out when `run`'s task has been cancelled.
    private func release() async {
        let task = Task {
            do {
                var lease = try await self.client.get(
                    ResourceType.leases, namespace: self.namespace, name: self.name, as: LeaseObject.self)
                guard lease.spec.holderIdentity == self.identity else { return }
                let stamp = MicroTime.format(Date())
                lease.spec.holderIdentity = nil
                lease.spec.leaseDurationSeconds = 1
                lease.spec.acquireTime = stamp
                lease.spec.renewTime = stamp
                _ = try await self.client.update(ResourceType.leases, lease)
                self.logger.info("Released the lease")
            } catch {
                self.logger.warning("Cannot release the lease", metadata: ["kubernetes.error": "\(error)"])
            }
        }
        await task.value
    }
}
