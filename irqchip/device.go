package irqchip

// A device interrupt, for scenarios where a device's handler, not an IPI,
// is what runs on a CPU: one vector per architecture, outside every
// vector and SGI Linux uses for IPIs. x86: 0x21, the first vector after
// FIRST_EXTERNAL_VECTOR (arch/x86/include/asm/irq_vectors.h) that the
// vector allocator hands to devices; arm64: INTID 32, the first SPI of a
// GICv3 (INTIDs 0..15 are SGIs, 16..31 PPIs, 32..1019 SPIs).
const (
	X86DeviceVector = 0x21
	GICDeviceVector = 32
	firstSPI        = 32
)

// DeviceVector is the device interrupt's vector on x86 or on arm64.
func DeviceVector(x86 bool) int {
	if x86 {
		return X86DeviceVector
	}
	return GICDeviceVector
}
