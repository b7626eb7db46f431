/// Invalid documents for the kinds beyond NetworkChaos, Schedule, Workflow
/// and StatusCheck (see InvalidDocumentTests for the runner).
enum KindSpecificInvalidCases {
    static let pod = "mode: one\nselector: {}\n"

    static let cases: [InvalidCase] = [
        // PodChaos.
        InvalidCase("container-kill without containers", "PodChaos", "action: container-kill\n" + pod,
                    paths: ["spec.containerNames"]),
        InvalidCase("negative grace period", "PodChaos", "action: pod-kill\ngracePeriod: -1\n" + pod,
                    paths: ["spec.gracePeriod"]),
        InvalidCase("unknown pod action", "PodChaos", "action: pod-restart\n" + pod, paths: ["spec.action"]),

        // StressChaos.
        InvalidCase("no stressors", "StressChaos", pod, paths: ["spec.stressors"]),
        InvalidCase("cpu load over 100", "StressChaos", pod + "stressors: {cpu: {workers: 1, load: 150}}",
                    paths: ["spec.stressors.cpu.load"]),
        InvalidCase("cpu workers missing", "StressChaos", pod + "stressors: {cpu: {load: 50}}",
                    paths: ["spec.stressors.cpu.workers"]),
        InvalidCase("memory size", "StressChaos", pod + "stressors: {memory: {workers: 1, size: lots}}",
                    paths: ["spec.stressors.memory.size"]),
        InvalidCase("oom score", "StressChaos", pod + "stressors: {memory: {workers: 1, size: 256MB, oomScoreAdj: 2000}}",
                    paths: ["spec.stressors.memory.oomScoreAdj"]),

        // IOChaos.
        InvalidCase("latency without delay", "IOChaos", "action: latency\nvolumePath: /data\n" + pod, paths: ["spec.delay"]),
        InvalidCase("fault without errno", "IOChaos", "action: fault\nvolumePath: /data\n" + pod, paths: ["spec.errno"]),
        InvalidCase("io percent over 100", "IOChaos", "action: latency\ndelay: 10ms\npercent: 120\nvolumePath: /data\n" + pod,
                    paths: ["spec.percent"]),
        InvalidCase("io without volume path", "IOChaos", "action: latency\ndelay: 10ms\n" + pod, paths: ["spec.volumePath"]),
        InvalidCase("mistake filling", "IOChaos",
                    "action: mistake\nvolumePath: /data\nmistake: {filling: ones, maxOccurrences: 1, maxLength: 1}\n" + pod,
                    paths: ["spec.mistake.filling"]),

        // TimeChaos.
        InvalidCase("time offset missing", "TimeChaos", pod, paths: ["spec.timeOffset"]),
        InvalidCase("time offset not a duration", "TimeChaos", "timeOffset: yesterday\n" + pod, paths: ["spec.timeOffset"]),
        InvalidCase("clock id", "TimeChaos", "timeOffset: -1h\nclockIds: [CLOCK_SUNDIAL]\n" + pod, paths: ["spec.clockIds[0]"]),

        // DNSChaos.
        InvalidCase("star in the middle", "DNSChaos", "action: error\npatterns: [\"a.*.com\"]\n" + pod, paths: ["spec.patterns[0]"]),
        InvalidCase("dns action", "DNSChaos", "action: timeout\n" + pod, paths: ["spec.action"]),

        // HTTPChaos.
        InvalidCase("http port out of range", "HTTPChaos", "target: Request\nport: 70000\nabort: true\n" + pod,
                    paths: ["spec.port"]),
        InvalidCase("http target", "HTTPChaos", "target: Both\nport: 80\nabort: true\n" + pod, paths: ["spec.target"]),
        InvalidCase("replace body not base64", "HTTPChaos", "target: Response\nport: 80\nreplace: {body: \"%%%\"}\n" + pod,
                    paths: ["spec.replace.body"]),

        // KernelChaos, JVMChaos, BlockChaos.
        InvalidCase("kernel fail type", "KernelChaos", "failKernRequest: {failtype: 3}\n" + pod,
                    paths: ["spec.failKernRequest.failtype"]),
        InvalidCase("kernel probability", "KernelChaos", "failKernRequest: {failtype: 0, probability: 101}\n" + pod,
                    paths: ["spec.failKernRequest.probability"]),
        InvalidCase("jvm exception needs class and method", "JVMChaos", "action: exception\nexception: java.io.IOException\n" + pod,
                    paths: ["spec.class", "spec.method"]),
        InvalidCase("jvm port", "JVMChaos", "action: gc\nport: 70000\n" + pod, paths: ["spec.port"]),
        InvalidCase("block delay latency", "BlockChaos", "action: delay\nvolumeName: data\ndelay: {latency: 1x}\n" + pod,
                    paths: ["spec.delay.latency"]),

        // Cloud kinds.
        InvalidCase("aws detach without volume", "AWSChaos", "action: detach-volume\nawsRegion: eu-west-1\nec2Instance: i-1",
                    paths: ["spec.volumeID", "spec.deviceName"]),
        InvalidCase("aws region missing", "AWSChaos", "action: ec2-stop\nec2Instance: i-1", paths: ["spec.awsRegion"]),
        InvalidCase("gcp disk loss without devices", "GCPChaos", "action: disk-loss\nproject: p\nzone: z\ninstance: i",
                    paths: ["spec.deviceNames"]),
        InvalidCase("azure action", "AzureChaos",
                    "action: vm-explode\nsubscriptionID: s\nresourceGroupName: r\nvmName: v", paths: ["spec.action"]),

        // PhysicalMachine and PhysicalMachineChaos.
        InvalidCase("physical machine address", "PhysicalMachine", "address: \"\"", paths: ["spec.address"]),
        InvalidCase("physical delay without its parameters", "PhysicalMachineChaos",
                    "action: network-delay\nmode: one\naddress: [\"http://127.0.0.1:31767\"]",
                    paths: ["spec.network-delay"]),
        InvalidCase("physical delay latency", "PhysicalMachineChaos",
                    "action: network-delay\nmode: one\naddress: [\"http://127.0.0.1:31767\"]\nnetwork-delay: {device: eth0, latency: slow}",
                    paths: ["spec.network-delay.latency"]),
        InvalidCase("physical loss percent", "PhysicalMachineChaos",
                    "action: network-loss\nmode: one\naddress: [\"http://127.0.0.1:31767\"]\nnetwork-loss: {device: eth0, percent: \"200\"}",
                    paths: ["spec.network-loss.percent"]),
    ]
}
