package service

// SetNativeArgs lets an external test see the parameters of the native
// batches' statements (see Service.nativeArgs).
func SetNativeArgs(s *Service, fn func(sqlText string, args []any)) { s.nativeArgs = fn }
