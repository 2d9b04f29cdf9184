package luabind

// luaDeviceIRQ is device_irq(cpu, fn [, info]): the device interrupt on
// cpu, whose handler runs fn(info) (xcall.Kernel.RaiseDeviceIRQ).
func luaDeviceIRQ(x call) int {
	cpu, fn := x.opCPU(1), x.fn(2)
	x.k().RaiseDeviceIRQ(cpu, x.s.funcOf(fn), x.info(3))
	return 0
}
